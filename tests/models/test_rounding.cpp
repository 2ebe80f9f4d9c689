// round_filters / round_repeats reproduce the reference rules (docs/specs.md).

#include <catch2/catch.hpp>

#include "effscale/models/rounding.h"

using namespace effscale::models;

TEST_CASE("round_filters matches the official stem and head widths", "[models][rounding]") {
  struct Case {
    int filters;
    double width;
    int expected;
  };
  const Case cases[] = {
      {32, 1.0, 32},     {32, 1.1, 32},     {32, 1.2, 40},     {32, 1.4, 48},     {32, 1.6, 48},
      {32, 1.8, 56},     {32, 2.0, 64},     {1280, 1.0, 1280}, {1280, 1.1, 1408}, {1280, 1.2, 1536},
      {1280, 1.4, 1792}, {1280, 1.6, 2048}, {1280, 1.8, 2304}, {1280, 2.0, 2560}, {16, 0.25, 8},
      {24, 0.5, 16},     {40, 0.35, 16},    {112, 1.1, 120},   {192, 1.2, 232},   {8, 0.1, 8},
  };
  for (const Case& c : cases) {
    INFO(c.filters << " x " << c.width);
    CHECK(round_filters(c.filters, c.width) == c.expected);
  }
}

TEST_CASE("round_filters adds a divisor when rounding down loses more than 10%", "[models][rounding]") {
  // 36 * 0.5 = 18 -> int(22) // 8 * 8 = 16 < 0.9 * 18 = 16.2 -> 24.
  CHECK(round_filters(36, 0.5) == 24);
  // 9 * 1.0 = 9 -> int(11) // 8 * 8 = 8 < 8.1 -> 16.
  CHECK(round_filters(9, 1.0) == 16);
  // 20 -> int(24) // 8 * 8 = 24 already >= 18: unchanged; other divisors work the same way.
  CHECK(round_filters(20, 1.0) == 24);
  CHECK(round_filters(10, 1.0, 4) == 12);
}

TEST_CASE("round_repeats rounds the scaled count up", "[models][rounding]") {
  CHECK(round_repeats(1, 1.0) == 1);
  CHECK(round_repeats(2, 1.1) == 3);
  CHECK(round_repeats(3, 1.4) == 5);
  CHECK(round_repeats(4, 3.1) == 13);
  CHECK(round_repeats(4, 1.8) == 8);
  CHECK(round_repeats(3, 1.0) == 3);
  CHECK(round_repeats(5, 0.5) == 3);
}
