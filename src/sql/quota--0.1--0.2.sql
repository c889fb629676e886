-- quota: upgrade from 0.1 to 0.2

\echo Use "ALTER EXTENSION quota UPDATE TO '0.2'" to load this file. \quit

-- Every change of release 0.2 is made here as well as in the install script
-- (src/sql/NN_*.sql); test/t/010_upgrade.pl checks that the two agree.
