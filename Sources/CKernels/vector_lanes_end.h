// The end of a Winograd variant (the counterpart of vector_lanes.h): undefines what vector_lanes.h and the variant's
// includer defined, so that the next variant can define them again.
#undef W
#undef JOIN
#undef JOIN2
#undef WIDTH
#undef LANES
#undef EVENS
#undef ODDS
#undef SHIFT1
#undef ZIP_LO
#undef ZIP_HI
#undef PAIRS_LO
#undef PAIRS_HI
#undef VARIANT
#undef TARGET
