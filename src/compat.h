/*
 * compat.h
 *		The one place for the differences between the PostgreSQL majors quota
 *		supports (15, 17 and 18).  Included right after postgres.h.
 *
 * quota's code is written in the newest spelling of each API; each block
 * below names the release that changed it and maps the new spelling back
 * to the old one for the releases before.
 */
#ifndef QUOTA_COMPAT_H
#define QUOTA_COMPAT_H

#if PG_VERSION_NUM < 150000
#error "quota requires PostgreSQL 15 or later"
#endif

/*
 * PostgreSQL 16 moved the varlena macros (VARDATA_ANY, VARSIZE_ANY_EXHDR,
 * ...) from postgres.h into varatt.h.
 */
#if PG_VERSION_NUM >= 160000
#include "varatt.h"
#endif

/*
 * PostgreSQL 18 lets a module name itself and its version in its magic
 * block (shown by pg_get_loaded_modules()).
 */
#include "fmgr.h"
#ifndef PG_MODULE_MAGIC_EXT
#define PG_MODULE_MAGIC_EXT(...) PG_MODULE_MAGIC
#endif

/*
 * PostgreSQL 17 made getIdentitySequence take the relation instead of its
 * OID.
 */
#include "catalog/dependency.h"
#include "utils/rel.h"
#if PG_VERSION_NUM < 170000
#define getIdentitySequence(rel, attnum, missing_ok) \
	getIdentitySequence(RelationGetRelid(rel), attnum, missing_ok)
#endif

/*
 * PostgreSQL 18 replaced pg_attribute_noreturn(), written after a
 * declaration, by pg_noreturn, written before it.  GCC and clang accept
 * the attribute in front as well.
 */
#ifndef pg_noreturn
#define pg_noreturn pg_attribute_noreturn()
#endif

/*
 * PostgreSQL 17 moved a backend's local transaction id into PGPROC.vxid
 * and replaced BackendId by ProcNumber (VirtualTransactionId.procNumber,
 * ProcNumberGetProc).  ProcLocalXid() and VirtualXidGetProc() read both.
 */
#include "storage/lock.h"
#include "storage/proc.h"
#if PG_VERSION_NUM >= 170000
#include "storage/procarray.h"
#else
#include "storage/sinvaladt.h"
#endif

/* The local transaction id a backend is running (or last ran). */
static inline LocalTransactionId
ProcLocalXid(PGPROC *proc)
{
#if PG_VERSION_NUM >= 170000
	return proc->vxid.lxid;
#else
	return proc->lxid;
#endif
}

/* The PGPROC of the backend running a virtual transaction, or NULL. */
static inline PGPROC *
VirtualXidGetProc(VirtualTransactionId vxid)
{
#if PG_VERSION_NUM >= 170000
	return ProcNumberGetProc(vxid.procNumber);
#else
	return BackendIdGetProc(vxid.backendId);
#endif
}

/*
 * PostgreSQL 16 gave ExecInitRangeTable the range table's permission infos
 * (RTEPermissionInfo, addRTEPermissionInfo) and EvalPlanQualInit the result
 * relations; PostgreSQL 18 gave ExecInitRangeTable the set of relations left
 * after pruning.  Before, there was nothing to pass.
 */
#include "executor/executor.h"
#if PG_VERSION_NUM >= 160000
#include "parser/parse_relation.h"
#else
#define addRTEPermissionInfo(rteperminfos, rte) ((void) (rteperminfos))
#define EvalPlanQualInit(epqstate, parentestate, subplan, auxrowmarks, epqParam, resultRelations) \
	EvalPlanQualInit(epqstate, parentestate, subplan, auxrowmarks, epqParam)
#endif
#if PG_VERSION_NUM < 160000
#define ExecInitRangeTable(estate, rangeTable, permInfos, unpruned_relids) \
	ExecInitRangeTable(estate, rangeTable)
#elif PG_VERSION_NUM < 180000
#define ExecInitRangeTable(estate, rangeTable, permInfos, unpruned_relids) \
	ExecInitRangeTable(estate, rangeTable, permInfos)
#endif

/*
 * PostgreSQL 18 gave index_beginscan an instrumentation argument (NULL: none),
 * renamed ResultRelInfo.ri_ConstraintExprs to ri_CheckConstraintExprs, and
 * added CHECK constraints that are NOT ENFORCED (ConstrCheck.ccenforced).
 */
#include "access/genam.h"
#include "access/tupdesc.h"
#if PG_VERSION_NUM < 180000
#define index_beginscan(heapRelation, indexRelation, snapshot, instrument, nkeys, norderbys) \
	index_beginscan(heapRelation, indexRelation, snapshot, nkeys, norderbys)
#define ri_CheckConstraintExprs ri_ConstraintExprs
#endif

/* Is a CHECK constraint enforced (every one is before PostgreSQL 18)? */
static inline bool
ConstrCheckEnforced(const ConstrCheck *check)
{
#if PG_VERSION_NUM >= 180000
	return check->ccenforced;
#else
	return true;
#endif
}

#endif							/* QUOTA_COMPAT_H */
