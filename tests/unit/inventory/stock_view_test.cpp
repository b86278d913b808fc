// StockView: the sold-out mark per sale generation, lifted by a fresh reading with stock or a
// local release; a mark made on one thread is seen by the others at once.
#include "inventory/stock_view.hpp"

#include <gtest/gtest.h>

#include <thread>

namespace fs::inventory {
namespace {

TEST(StockView, SoldOutMarksFollowTheGenerationAndTheStock) {
  StockView view;
  EXPECT_FALSE(view.known_sold_out("p", 1));
  EXPECT_FALSE(view.available("p", 1).has_value());
  view.mark_sold_out("p", 1);
  EXPECT_TRUE(view.known_sold_out("p", 1));
  EXPECT_FALSE(view.known_sold_out("p", 2));  // a new generation is a new sale
  view.update_available("p", 1, 0);
  EXPECT_TRUE(view.known_sold_out("p", 1));
  EXPECT_EQ(view.available("p", 1), 0);
  view.update_available("p", 1, 3);
  EXPECT_FALSE(view.known_sold_out("p", 1));
  EXPECT_EQ(view.available("p", 1), 3);
  view.mark_sold_out("p", 1);
  view.stock_returned("p", 1);
  EXPECT_FALSE(view.known_sold_out("p", 1));
  view.mark_sold_out("p", 2);  // replaced sale
  EXPECT_TRUE(view.known_sold_out("p", 2));
  EXPECT_FALSE(view.known_sold_out("p", 1));
  EXPECT_FALSE(view.available("p", 2).has_value());
  view.forget("p");
  EXPECT_FALSE(view.known_sold_out("p", 2));
}

TEST(StockView, AMarkOnOneThreadIsSeenOnAnother) {
  StockView view;
  EXPECT_FALSE(view.known_sold_out("q", 1));  // this thread has looked q up (absent)
  std::thread([&] { view.mark_sold_out("q", 1); }).join();
  EXPECT_TRUE(view.known_sold_out("q", 1));  // a new product reaches this thread's copy
  std::thread([&] { view.update_available("q", 1, 5); }).join();
  EXPECT_FALSE(view.known_sold_out("q", 1));
  std::thread([&] { view.mark_sold_out("q", 1); }).join();
  EXPECT_TRUE(view.known_sold_out("q", 1));
}

}  // namespace
}  // namespace fs::inventory
