/*
 * A binary min-heap of deadlines whose entries live inside their owners (each knows its index,
 * so re-arming and removing are O(log n) with no search). Used by the engine's tcp_proxy sessions
 * (l4.c) for their one timer each: the upstream connect timeout, then the periodic tick.
 */
#ifndef LEGATE_DEADLINE_HEAP_H
#define LEGATE_DEADLINE_HEAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define LG_HEAP_NONE UINT32_MAX

typedef struct lg_deadline {
  uint64_t at;    /* uv_now() milliseconds */
  uint32_t index; /* position in the heap, LG_HEAP_NONE when not armed */
} lg_deadline;

typedef struct lg_deadline_heap {
  lg_deadline **items;
  uint32_t count, capacity;
} lg_deadline_heap;

static inline void lg_deadline_init(lg_deadline *d) { d->index = LG_HEAP_NONE; }
/* Arms (or re-arms) `d` for `at`. False when out of memory (the deadline is then not armed). */
bool lg_heap_arm(lg_deadline_heap *h, lg_deadline *d, uint64_t at);
void lg_heap_disarm(lg_deadline_heap *h, lg_deadline *d);
/* The earliest deadline, or NULL. */
static inline lg_deadline *lg_heap_top(const lg_deadline_heap *h) { return h->count ? h->items[0] : NULL; }
void lg_heap_free(lg_deadline_heap *h);

#endif
