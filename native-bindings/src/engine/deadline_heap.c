/* See deadline_heap.h. */
#include "deadline_heap.h"

#include <stdlib.h>

static void place(lg_deadline_heap *h, uint32_t i, lg_deadline *d) {
  h->items[i] = d;
  d->index = i;
}

static void sift_up(lg_deadline_heap *h, uint32_t i) {
  lg_deadline *d = h->items[i];
  while (i > 0) {
    uint32_t parent = (i - 1) / 2;
    if (h->items[parent]->at <= d->at) break;
    place(h, i, h->items[parent]);
    i = parent;
  }
  place(h, i, d);
}

static void sift_down(lg_deadline_heap *h, uint32_t i) {
  lg_deadline *d = h->items[i];
  for (;;) {
    uint32_t child = 2 * i + 1;
    if (child >= h->count) break;
    if (child + 1 < h->count && h->items[child + 1]->at < h->items[child]->at) child++;
    if (h->items[child]->at >= d->at) break;
    place(h, i, h->items[child]);
    i = child;
  }
  place(h, i, d);
}

bool lg_heap_arm(lg_deadline_heap *h, lg_deadline *d, uint64_t at) {
  if (d->index != LG_HEAP_NONE) {
    uint64_t before = d->at;
    d->at = at;
    if (at < before) sift_up(h, d->index);
    else sift_down(h, d->index);
    return true;
  }
  if (h->count == h->capacity) {
    uint32_t capacity = h->capacity ? h->capacity * 2 : 256;
    lg_deadline **items = realloc(h->items, capacity * sizeof *items);
    if (items == NULL) return false;
    h->items = items;
    h->capacity = capacity;
  }
  d->at = at;
  place(h, h->count++, d);
  sift_up(h, d->index);
  return true;
}

void lg_heap_disarm(lg_deadline_heap *h, lg_deadline *d) {
  uint32_t i = d->index;
  if (i == LG_HEAP_NONE) return;
  d->index = LG_HEAP_NONE;
  lg_deadline *last = h->items[--h->count];
  if (i == h->count) return;
  place(h, i, last);
  if (i > 0 && h->items[(i - 1) / 2]->at > last->at) sift_up(h, i);
  else sift_down(h, i);
}

void lg_heap_free(lg_deadline_heap *h) {
  free(h->items);
  h->items = NULL;
  h->count = h->capacity = 0;
}
