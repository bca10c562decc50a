// test_main: GoogleTest entry point shared by every test executable. Death tests run in a
// re-executed child ("threadsafe"), since the runtime starts threads.
#include <gtest/gtest.h>

int main(int argc, char** argv) {
  testing::InitGoogleTest(&argc, argv);
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  return RUN_ALL_TESTS();
}
