-- quota: upgrade from 0.2 to 0.3

\echo Use "ALTER EXTENSION quota UPDATE TO '0.3'" to load this file. \quit

-- Every change of release 0.3 is made here as well as in the install script
-- (src/sql/NN_*.sql); TAP test 010 checks that an installation walked from
-- 0.1 has exactly the objects of a fresh one.
--
-- 0.3 builds from one source tree for PostgreSQL 15, 17 and 18; the
-- library of 0.3 serves 0.1 and 0.2 installations until they are updated.
