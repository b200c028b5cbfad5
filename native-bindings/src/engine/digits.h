/*
 * Numbers written into heads and chunk-size lines on every request: snprintf's format parsing and
 * locale handling cost more than the rest of composing a small head, so these write digits
 * directly. Each returns the number of characters written into `out` (no NUL).
 */
#ifndef LEGATE_DIGITS_H
#define LEGATE_DIGITS_H

#include <stddef.h>
#include <stdint.h>

/* Decimal, with a '-' for negatives; `out` holds at least 20 characters. */
static inline size_t lg_decimal(char *out, int64_t n) {
  char reversed[20];
  size_t len = 0;
  uint64_t magnitude = n < 0 ? (uint64_t)0 - (uint64_t)n : (uint64_t)n;
  do {
    reversed[len++] = (char)('0' + magnitude % 10);
    magnitude /= 10;
  } while (magnitude != 0);
  size_t at = 0;
  if (n < 0) out[at++] = '-';
  while (len > 0) out[at++] = reversed[--len];
  return at;
}

/* Lower-case hexadecimal without leading zeros; `out` holds at least 16 characters. */
static inline size_t lg_hex(char *out, uint64_t n) {
  static const char digits[] = "0123456789abcdef";
  char reversed[16];
  size_t len = 0;
  do {
    reversed[len++] = digits[n & 15];
    n >>= 4;
  } while (n != 0);
  size_t at = 0;
  while (len > 0) out[at++] = reversed[--len];
  return at;
}

#endif
