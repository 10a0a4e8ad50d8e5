#include <gtest/gtest.h>
#include "shmring/spsc_ring.hpp"
TEST(SpscRing, Placeholder) {}
