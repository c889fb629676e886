/*
 * direct.h
 *		Planner-free writes to quota's tables (direct.c): inserts and
 *		updates done the way the executor does them.
 */
#ifndef QUOTA_DIRECT_H
#define QUOTA_DIRECT_H

#include "access/genam.h"
#include "executor/tuptable.h"
#include "nodes/execnodes.h"
#include "storage/itemptr.h"
#include "utils/relcache.h"
#include "utils/snapshot.h"

#include "relation.h"

/* A row being written: the relation, a minimal executor state and the row. */
typedef struct DirectWrite
{
	Relation	rel;
	EState	   *estate;
	ResultRelInfo *rri;
	TupleTableSlot *slot;		/* the new row (virtual) */
} DirectWrite;

extern void DirectBegin(DirectWrite *w, QuotaRelation table);
extern void DirectSetAttr(DirectWrite *w, AttrNumber attnum, Datum value);
extern void DirectInsert(DirectWrite *w);
extern void DirectUpdate(DirectWrite *w, ItemPointer tid);

#endif							/* QUOTA_DIRECT_H */
