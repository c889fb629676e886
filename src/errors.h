/*
 * errors.h
 *		Errors that every layer raises alike (errors.c).
 */
#ifndef QUOTA_ERRORS_H
#define QUOTA_ERRORS_H

extern void QuotaRefuseOnStandby(const char *function);

#endif							/* QUOTA_ERRORS_H */
