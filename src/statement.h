/*
 * statement.h
 *		Monthly statements: the hash of a statement's entries, and the wait
 *		for transactions that may still write a closing period (statement.c).
 */
#ifndef QUOTA_STATEMENT_H
#define QUOTA_STATEMENT_H

#include "fmgr.h"

extern Datum quota_statement_scan(PG_FUNCTION_ARGS);
extern Datum quota_statement_wait(PG_FUNCTION_ARGS);

#endif							/* QUOTA_STATEMENT_H */
