# Upgrades: install the oldest version that has an install script, walk
# ALTER EXTENSION quota UPDATE one release at a time to the newest, and
# compare every object of the extension (definitions, columns, policies,
# triggers, comments, grants) with a fresh install of the newest version.
# With a single release so far, the walk has no step and the comparison
# checks the fingerprint against itself; each new release adds its
# quota--A--B.sql script and this test walks it.
use strict;
use warnings;
use QuotaNode;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = quota_node('upgrade');

my @versions = split /\n/, $node->safe_psql('postgres', q{
    SELECT version FROM pg_available_extension_versions
     WHERE name = 'quota' ORDER BY string_to_array(version, '.')::int[]});
my $newest = $node->safe_psql('postgres',
    q{SELECT default_version FROM pg_available_extensions WHERE name = 'quota'});
note "versions: @versions; newest $newest";
ok(scalar @versions >= 1, 'quota has an installable version');

# everything an extension object is, as text
my $fingerprint = q{
WITH objs AS (
    SELECT d.classid, d.objid, d.objsubid
      FROM pg_depend d
     WHERE d.refclassid = 'pg_extension'::regclass AND d.deptype = 'e'
       AND d.refobjid = (SELECT oid FROM pg_extension WHERE extname = 'quota'))
SELECT string_agg(line, E'\n' ORDER BY line) FROM (
    SELECT pg_describe_object(classid, objid, objsubid)
           || ' | ' || coalesce(obj_description(objid,
                  (SELECT relname FROM pg_class WHERE oid = classid)), '')
           || ' | ' || coalesce(CASE classid
                WHEN 'pg_proc'::regclass THEN
                    (SELECT pg_get_functiondef(objid)
                              || coalesce(array_to_string(p.proacl, ','), '')
                       FROM pg_proc p WHERE p.oid = objid AND p.prokind <> 'a')
                WHEN 'pg_class'::regclass THEN
                    (SELECT c.relkind::text || coalesce(array_to_string(c.relacl, ','), '')
                            || c.relrowsecurity::text
                            || coalesce(pg_get_viewdef(c.oid), '')
                            || coalesce((SELECT string_agg(a.attname || ' ' || format_type(a.atttypid, a.atttypmod)
                                                           || a.attnotnull::text
                                                           || coalesce(pg_get_expr(ad.adbin, ad.adrelid), ''),
                                                           ', ' ORDER BY a.attnum)
                                           FROM pg_attribute a
                                           LEFT JOIN pg_attrdef ad ON ad.adrelid = a.attrelid AND ad.adnum = a.attnum
                                          WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped), '')
                            || coalesce((SELECT string_agg(pg_get_indexdef(i.indexrelid), ', ' ORDER BY 1)
                                           FROM pg_index i WHERE i.indrelid = c.oid), '')
                            || coalesce((SELECT string_agg(pg_get_constraintdef(k.oid), ', ' ORDER BY 1)
                                           FROM pg_constraint k WHERE k.conrelid = c.oid), '')
                            || coalesce((SELECT string_agg(pg_get_triggerdef(t.oid), ', ' ORDER BY 1)
                                           FROM pg_trigger t WHERE t.tgrelid = c.oid AND NOT t.tgisinternal), '')
                            || coalesce((SELECT string_agg(p.polname || ' ' || p.polcmd::text
                                                           || coalesce(pg_get_expr(p.polqual, p.polrelid), '')
                                                           || coalesce(pg_get_expr(p.polwithcheck, p.polrelid), ''),
                                                           ', ' ORDER BY 1)
                                           FROM pg_policy p WHERE p.polrelid = c.oid), '')
                       FROM pg_class c WHERE c.oid = objid)
                ELSE '' END, '') AS line
      FROM objs) x
};

$node->safe_psql('postgres', 'CREATE DATABASE fresh');
$node->safe_psql('postgres', 'CREATE DATABASE walked');
$node->safe_psql('fresh', "SET client_min_messages = warning; CREATE EXTENSION quota VERSION '$newest'");
$node->safe_psql('walked',
    "SET client_min_messages = warning; CREATE EXTENSION quota VERSION '$versions[0]'");
my $steps = 0;
for my $v (@versions[1 .. $#versions])
{
    $node->safe_psql('walked', "ALTER EXTENSION quota UPDATE TO '$v'");
    $steps++;
}
is($node->safe_psql('walked', q{SELECT extversion FROM pg_extension WHERE extname = 'quota'}),
   $newest, "walked from $versions[0] to $newest in $steps steps");
my ($a, $b) = map { $node->safe_psql($_, $fingerprint) } qw(fresh walked);
cmp_ok(length($a), '>', 10000, 'the fingerprint covers the objects');
is($b, $a, 'the walked install has exactly the objects of a fresh one');
$node->stop;
done_testing();
