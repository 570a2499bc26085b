/*
 * Message ids (mc_bus_new_id): 32 lowercase hex digits, the first 12 the time they were
 * made in milliseconds, unique, and sorting in the order they were made across
 * milliseconds (the inboxes' primary keys grow at their right edge).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <CUnit/Basic.h>

#include "mc_bus.h"

#define N_IDS 100000

static int compare_id(const void *a, const void *b) { return strcmp(a, b); }

static int64_t prefix_ms(const char *id)
{
    char head[13];
    memcpy(head, id, 12);
    head[12] = '\0';
    return (int64_t)strtoll(head, NULL, 16);
}

static void test_format_and_time(void)
{
    char id[33];
    int64_t before = mc_now_ms();
    mc_bus_new_id(id);
    int64_t after = mc_now_ms();
    CU_ASSERT_EQUAL(strlen(id), 32);
    CU_ASSERT_EQUAL(strspn(id, "0123456789abcdef"), 32);
    CU_ASSERT(mc_valid_id(id, 64));
    CU_ASSERT(prefix_ms(id) >= before);
    CU_ASSERT(prefix_ms(id) <= after);
}

static void test_unique(void)
{
    char(*ids)[33] = malloc(sizeof(*ids) * N_IDS);
    CU_ASSERT_FATAL(ids != NULL);
    for (int i = 0; i < N_IDS; i++)
        mc_bus_new_id(ids[i]);
    qsort(ids, N_IDS, sizeof(*ids), compare_id);
    int repeated = 0;
    for (int i = 1; i < N_IDS; i++)
        repeated += strcmp(ids[i - 1], ids[i]) == 0;
    CU_ASSERT_EQUAL(repeated, 0);
    /* the random part varies: its first digit takes many values */
    int seen[16] = {0}, kinds = 0;
    for (int i = 0; i < N_IDS; i++)
        seen[ids[i][12] < 'a' ? ids[i][12] - '0' : ids[i][12] - 'a' + 10] = 1;
    for (int k = 0; k < 16; k++)
        kinds += seen[k];
    CU_ASSERT_EQUAL(kinds, 16);
    free(ids);
}

static void test_later_sorts_after(void)
{
    char first[33], later[33];
    mc_bus_new_id(first);
    struct timespec pause = {0, 2000000}; /* 2 ms: the next id is of a later millisecond */
    nanosleep(&pause, NULL);
    for (int i = 0; i < 1000; i++) {
        mc_bus_new_id(later);
        CU_ASSERT(strcmp(first, later) < 0);
    }
}

int main(void)
{
    if (CU_initialize_registry() != CUE_SUCCESS)
        return 2;
    CU_pSuite suite = CU_add_suite("bus", NULL, NULL);
    if (!suite || !CU_add_test(suite, "ids are 32 hex digits led by their time", test_format_and_time) ||
        !CU_add_test(suite, "ids are unique", test_unique) ||
        !CU_add_test(suite, "later ids sort after earlier ones", test_later_sorts_after)) {
        CU_cleanup_registry();
        return 2;
    }
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    unsigned failed = CU_get_number_of_failures();
    CU_cleanup_registry();
    return failed ? 1 : 0;
}
