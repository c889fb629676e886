/*
 * identity.c
 *		The identity rule: a call acts for the calling role (as SET ROLE
 *		leaves it), or, for members of quota_app and quota_admin, for the
 *		user named by the user_id argument or the quota.user_id setting.
 */
#include "postgres.h"

#include "compat.h"

#include "fmgr.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/guc.h"

#include "identity.h"
#include "quota.h"

PG_FUNCTION_INFO_V1(quota_current_user_id);

/* Does the outer role have the privileges of the named role? */
static bool
OuterHasRole(const char *rolname)
{
	Oid			roleid = get_role_oid(rolname, true);
	Oid			outer = GetOuterUserId();

	if (superuser_arg(outer))
		return true;
	return OidIsValid(roleid) && has_privs_of_role(outer, roleid);
}

/* Is the calling role a member of quota_admin (or a superuser)? */
bool
QuotaCallerIsAdmin(void)
{
	return OuterHasRole("quota_admin");
}

/*
 * Is user_id the calling role itself, and the role one that acts for
 * others (quota_app, quota_admin)?  Then a call that named no user acted
 * for the service's own role, which is rarely what was meant.
 */
bool
QuotaIsServiceRole(const char *user_id)
{
	char	   *self = GetUserNameFromId(GetOuterUserId(), false);

	return strcmp(self, user_id) == 0 &&
		(OuterHasRole("quota_app") || OuterHasRole("quota_admin"));
}

/*
 * The user id a call acts for.  argno is the user_id argument (or -1).  An
 * empty quota.user_id counts as unset.  Raises 42501 when a role outside
 * quota_app and quota_admin names another user.
 */
char *
QuotaResolveUser(FunctionCallInfo fcinfo, int argno)
{
	char	   *self = GetUserNameFromId(GetOuterUserId(), false);
	char	   *wanted = NULL;

	if (argno >= 0 && argno < PG_NARGS() && !PG_ARGISNULL(argno))
		wanted = text_to_cstring(PG_GETARG_TEXT_PP(argno));
	else
	{
		const char *setting = GetConfigOption("quota.user_id", true, false);

		if (setting && setting[0] != '\0')
			wanted = pstrdup(setting);
	}

	if (wanted == NULL || strcmp(wanted, self) == 0)
		return self;
	if (wanted[0] == '\0')
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("user id must not be empty"),
				 errhint("Pass the user's id, or NULL to act for the calling role.")));
	if (OuterHasRole("quota_app") || OuterHasRole("quota_admin"))
		return wanted;
	ereport(ERROR,
			(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
			 errmsg("permission denied to act for user \"%s\"", wanted),
			 errdetail("Role \"%s\" is not a member of quota_app or quota_admin.", self),
			 errhint("Omit the user id to act for yourself, or ask for membership in quota_app.")));
	return NULL;				/* keep compiler quiet */
}

/* SQL: the user id the current session acts for (used by row-level security). */
Datum
quota_current_user_id(PG_FUNCTION_ARGS)
{
	PG_RETURN_TEXT_P(cstring_to_text(QuotaResolveUser(fcinfo, -1)));
}

PG_FUNCTION_INFO_V1(quota_caller_is_admin);

/* SQL: does the calling role have the privileges of quota_admin? */
Datum
quota_caller_is_admin(PG_FUNCTION_ARGS)
{
	PG_RETURN_BOOL(QuotaCallerIsAdmin());
}
