#define TSNN_AVX512 1
#include "kernels_impl.h"
