#define TSNN_AVX2 1
#include "kernels_impl.h"
