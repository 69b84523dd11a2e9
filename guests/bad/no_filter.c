/* A module that forgot its entry point: it exports `helper`, not
 * `filter`, so it cannot be attached to a hook. */
__attribute__((export_name("helper"))) int helper(int x)
{
	return x + 1;
}
