// ProductCatalog: known products are found from the thread's copy, a change of a product reaches
// every thread, absent ids are remembered for the negative TTL only, and a lookup hands out a
// Product of this thread's own (so its reference count is not shared with other threads).
#include "catalog/product_catalog.hpp"

#include <gtest/gtest.h>

#include <thread>

namespace fs::catalog {
namespace {

Product product(const std::string& id, std::int64_t generation, std::int64_t price = 100) {
  Product p;
  p.product_id = id;
  p.name = "Phone";
  p.price_cents = price;
  p.currency = "usd";
  p.stock_total = 10;
  p.generation = generation;
  return p;
}

TEST(ProductCatalog, FindsPutsAndNewerGenerationsOnly) {
  ManualClock clock;
  ProductCatalog catalog(clock);
  std::shared_ptr<const Product> out;
  EXPECT_EQ(catalog.find("p1", &out), ProductCatalog::Lookup::unknown);
  catalog.put(product("p1", 1));
  ASSERT_EQ(catalog.find("p1", &out), ProductCatalog::Lookup::found);
  EXPECT_EQ(out->generation, 1);
  catalog.put(product("p1", 2, 250));
  ASSERT_EQ(catalog.find("p1", &out), ProductCatalog::Lookup::found);
  EXPECT_EQ(out->generation, 2);
  EXPECT_EQ(out->price_cents, 250);
  catalog.put(product("p1", 1));  // a slow refresh with an older generation
  ASSERT_EQ(catalog.find("p1", &out), ProductCatalog::Lookup::found);
  EXPECT_EQ(out->generation, 2);
  // A change within a generation (the refresh re-puts every product) is seen too.
  catalog.put(product("p1", 2, 300));
  ASSERT_EQ(catalog.find("p1", &out), ProductCatalog::Lookup::found);
  EXPECT_EQ(out->price_cents, 300);
  EXPECT_EQ(catalog.all().size(), 1u);
}

TEST(ProductCatalog, RemembersAbsentIdsForTheNegativeTtl) {
  ManualClock clock;
  ProductCatalog catalog(clock, std::chrono::seconds{1});
  std::shared_ptr<const Product> out;
  catalog.put_absent("ghost");
  EXPECT_EQ(catalog.find("ghost", &out), ProductCatalog::Lookup::absent);
  clock.advance(std::chrono::milliseconds{1001});
  EXPECT_EQ(catalog.find("ghost", &out), ProductCatalog::Lookup::unknown);
  catalog.put(product("ghost", 1));  // created since
  EXPECT_EQ(catalog.find("ghost", &out), ProductCatalog::Lookup::found);
  catalog.put_absent("ghost");  // a known product is never made absent
  EXPECT_EQ(catalog.find("ghost", &out), ProductCatalog::Lookup::found);
}

TEST(ProductCatalog, EachThreadGetsItsOwnCopyAndSeesChanges) {
  ManualClock clock;
  ProductCatalog catalog(clock);
  catalog.put(product("p", 1, 100));
  std::shared_ptr<const Product> here;
  ASSERT_EQ(catalog.find("p", &here), ProductCatalog::Lookup::found);
  std::shared_ptr<const Product> there;
  std::int64_t price_there = 0;
  std::thread([&] {
    ASSERT_EQ(catalog.find("p", &there), ProductCatalog::Lookup::found);
    catalog.put(product("p", 1, 555));  // changed on that thread...
    std::shared_ptr<const Product> again;
    ASSERT_EQ(catalog.find("p", &again), ProductCatalog::Lookup::found);
    price_there = again->price_cents;
  }).join();
  EXPECT_NE(here.get(), there.get());  // distinct objects: distinct reference counts
  EXPECT_EQ(*here, product("p", 1, 100));
  EXPECT_EQ(price_there, 555);
  std::shared_ptr<const Product> now;
  ASSERT_EQ(catalog.find("p", &now), ProductCatalog::Lookup::found);
  EXPECT_EQ(now->price_cents, 555);  // ...and seen here
  EXPECT_EQ(here->price_cents, 100);  // what was handed out before stays valid and unchanged
}

}  // namespace
}  // namespace fs::catalog
