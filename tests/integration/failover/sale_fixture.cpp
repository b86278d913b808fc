// The reservation tests' harness (in-process service, racing HTTP client), compiled into this
// binary too.
#include "integration/reservation/sale_fixture.cpp"
