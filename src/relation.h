/*
 * relation.h
 *		quota's own relations without SPI: OIDs, columns, index probes and
 *		row locks (relation.c).
 */
#ifndef QUOTA_RELATION_H
#define QUOTA_RELATION_H

#include "access/genam.h"
#include "executor/tuptable.h"
#include "utils/relcache.h"
#include "utils/snapshot.h"

/* quota's relations that are read or written without SPI. */
typedef enum QuotaRelation
{
	QR_LEDGER, QR_LEDGER_REQUEST_ID, QR_RESERVATIONS, QR_RESERVATIONS_PKEY,
	QR_USERS, QR_USERS_PKEY, QR_USER_STATE, QR_USER_STATE_PKEY,
	QR_POOL_MEMBERS, QR_POOL_MEMBERS_USER, QR_POOL_DEFS, QR_POOL_DEFS_OWNER,
	QR_POOL_DEFS_PKEY,
	QR_COUNT
} QuotaRelation;

extern void QuotaRelationInit(void);
extern Oid	QuotaRel(QuotaRelation r);
extern uint64 QuotaCatalogVersion(void);
extern AttrNumber QuotaColumn(Relation rel, const char *name);
extern AttrNumber QuotaColumnRequired(Relation rel, const char *name);
extern void QuotaColumnsRequired(Relation rel, const char *const *names, int n,
								 AttrNumber *attnums);
extern AttrNumber QuotaColumnTyped(Relation rel, const char *name, Oid type);
extern void QuotaColumnsTyped(Relation rel, const char *const *names,
							  const Oid *types, int n, AttrNumber *attnums);

/* Called for each row QuotaForEachRow finds; false stops the visit. */
typedef bool (*QuotaRowVisitor) (Relation rel, TupleTableSlot *slot, void *arg);

extern int	QuotaForEachRow(QuotaRelation table, QuotaRelation index,
							const char *key, Snapshot snapshot,
							QuotaRowVisitor visit, void *arg);
extern char *QuotaSlotText(TupleTableSlot *slot, AttrNumber attnum);
extern bool QuotaLockLatest(Relation heap, QuotaRelation index, const char *key,
							Snapshot snapshot, TupleTableSlot *slot);

#endif							/* QUOTA_RELATION_H */
