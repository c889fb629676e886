/*
 * identity.h
 *		Who a call acts for: the SPEC's identity rule.
 */
#ifndef QUOTA_IDENTITY_H
#define QUOTA_IDENTITY_H

#include "fmgr.h"

extern char *QuotaResolveUser(FunctionCallInfo fcinfo, int argno);
extern bool QuotaCallerIsAdmin(void);
extern bool QuotaIsServiceRole(const char *user_id);

#endif							/* QUOTA_IDENTITY_H */
