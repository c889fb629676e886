/*
 * fallback.h
 *		Fallback pools: a new request tried on the user's fallback list when
 *		the active pool cannot pay (fallback.c).
 */
#ifndef QUOTA_FALLBACK_H
#define QUOTA_FALLBACK_H

/*
 * One attempt of a request on a pool (NULL: the active one); it sets
 * *chosen to the pool it chose before anything can refuse it.
 */
typedef void (*FallbackAttempt) (void *arg, const char *pool, char **chosen);

extern int	FallbackPools(const char *user_id, char ***pools);
extern void FallbackRun(const char *user_id, FallbackAttempt attempt, void *arg);

#endif							/* QUOTA_FALLBACK_H */
