/* An atomic counter in shared memory (-matomics, --shared-memory): kwasm
 * programs are single-threaded. */
static int counter;

__attribute__((export_name("filter"))) int filter(int len)
{
	return __atomic_fetch_add(&counter, len, __ATOMIC_SEQ_CST) >= 0;
}
