# quota: exact LLM quota pools and billing inside PostgreSQL

EXTENSION	= quota
EXTVERSION	= $(shell sed -n "s/^default_version *= *'\(.*\)'/\1/p" quota.control)

MODULE_big	= quota
OBJS = \
	src/quota.o \
	src/rowtype.o \
	src/credits.o \
	src/credits_text.o \
	src/credits_agg.o \
	src/credits_cross.o \
	src/cost.o \
	src/catalog.o \
	src/cron.o \
	src/identity.o \
	src/escrow.o \
	src/pools.o \
	src/charge.o \
	src/direct.o \
	src/ledger.o \
	src/profile.o \
	src/profile_cache.o \
	src/alert.o \
	src/route.o \
	src/hint.o \
	src/request.o \
	src/caps.o \
	src/member_caps.o \
	src/reserve.o \
	src/standby.o \
	src/uninstall.o \
	src/guard.o \
	src/ratelimit.o \
	src/refusals.o \
	src/seal.o \
	src/statement.o \
	src/statement_groups.o \
	src/statement_line.o \
	src/archive.o \
	src/shmem_usage.o \
	src/invalidation.o \
	src/shmem.o \
	src/xact.o \
	src/spi.o \
	src/errors.o \
	src/settings.o \
	src/relation.o \
	src/guard_trigger.o \
	src/rate_window.o \
	src/config.o \
	src/pools_sql.o \
	src/grants.o \
	src/fallback.o
PGFILEDESC	= "quota - exact LLM quota pools and billing"

# The install script of the current version is assembled from one file per
# concern (src/sql/NN_*.sql); the install scripts of released versions and
# the upgrade scripts are kept whole in src/sql/.
SQL_PARTS	= $(sort $(wildcard src/sql/[0-9][0-9]_*.sql))
DATA_built	= $(EXTENSION)--$(EXTVERSION).sql
DATA		= $(filter-out src/sql/$(EXTENSION)--$(EXTVERSION).sql,$(wildcard src/sql/$(EXTENSION)--*.sql))

REGRESS		= setup credits cost cron pools charge views security attacks alerts badinput direct guard \
		  overrun overdrawn ratelimit account caps history privileges registration \
		  statements grants fallback
REGRESS_PREP	= installcheck-user
REGRESS_OPTS	= --temp-instance=tmp_check --temp-config=test/quota.conf
ISOLATION	= charge-race reserve-race settle-race money-race member-limit-race reset-race route-cache \
		  member-limit-snapshot old-transaction-reset reserve-snapshot overflow-race rate-limit-race \
		  caps-race caps-snapshot caps-window caps-cache member-counters seal-race \
		  archive-race window-seal price-change auto-register-race statement-close \
		  grant-race grant-begin fallback-race member-period
ISOLATION_OPTS	= --inputdir=test --outputdir=test/output_iso \
		  --temp-instance=tmp_check_iso --temp-config=test/quota.conf
TAP_TESTS	= 1
PROVE_TESTS	= test/t/*.pl
EXTRA_CLEAN	= tmp_check tmp_check_iso test/output_iso results regression.diffs regression.out

# Warnings are errors in the test build only (make test sets COPT=-Werror),
# not for packagers building with a newer compiler.
PG_CPPFLAGS	+= -DQUOTA_VERSION='"$(EXTVERSION)"'
PG_CFLAGS	+= -Wall -Wextra -Wno-unused-parameter -Wno-sign-compare \
		   -Wno-missing-field-initializers

PG_CONFIG	?= pg_config
PGXS		:= $(shell $(PG_CONFIG) --pgxs)
include $(PGXS)

# the TAP tests' shared node set-up (test/t/QuotaNode.pm); after PGXS, which
# empties PROVE_FLAGS
PROVE_FLAGS	= -I test/t

# PGXS does not track header dependencies: rebuild every object when one changes.
$(OBJS): $(wildcard src/*.h)

$(EXTENSION)--$(EXTVERSION).sql: $(SQL_PARTS)
	cat $^ > $@

# The suites start their own instance, and initdb refuses root: say so
# instead of failing inside pg_regress (make test switches users itself).
.PHONY: installcheck-user
installcheck-user:
	@if [ "$$(id -u)" = 0 ]; then \
		echo "make installcheck cannot run as root (initdb refuses it): run make test, which runs every suite as an unprivileged user" >&2; \
		exit 1; \
	fi

# One target per suite, so the test command can run each and report each.
.PHONY: regresscheck isolationcheck tapcheck demo test bench fuzz
regresscheck:
	$(pg_regress_installcheck) $(REGRESS_OPTS) $(REGRESS)
isolationcheck:
	$(pg_isolation_regress_installcheck) $(ISOLATION_OPTS) $(ISOLATION)
tapcheck:
	$(prove_installcheck)

# The README's two commands (they install packages and switch users as needed).
demo:
	bash test/scripts/demo.sh
test:
	bash test/scripts/run-tests.sh
bench:
	bash test/bench/run.sh
fuzz:
	bash test/fuzz/run.sh
