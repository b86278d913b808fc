// The end-to-end harness of tests/integration/reservation (ServiceUnderTest, race, tokens),
// compiled into this binary too rather than copied.
#include "../reservation/sale_fixture.cpp"  // NOLINT(bugprone-suspicious-include)
