// Runs each CKernels kernel once on a plane the size of ECA-NFNet-L0's largest activation pass (256 × 56 × 56
// floats) with the variant MGMT_KERNELS picks, for callgrind to count instructions per kernel
// (scripts/kernel-instructions.sh). Prints the variant and a checksum so that the work cannot be optimised away.
#include <stdio.h>
#include <stdlib.h>

#include "CKernels.h"

enum { COUNT = 256 * 56 * 56 };

int main(void) {
    float *x = malloc(COUNT * sizeof *x), *y = malloc(COUNT * sizeof *y), *out = malloc(COUNT * sizeof *out);
    for (int i = 0; i < COUNT; i++) {
        x[i] = (float)((i * 7919) % 2000) / 250.0f - 4.0f;
        y[i] = (float)(i % 101) / 50.0f;
    }
    const ck_kernels *k = ck_active();
    k->silu(x, out, COUNT, 0.1f, 0.98f);
    double check = out[COUNT / 3];
    k->sigmoid(x, out, COUNT, 0.0f);
    check += out[COUNT / 5];
    k->bias_relu(x, out, COUNT, 0.1f);
    check += out[COUNT / 7];
    k->scale_add(x, 0.4f, y, out, COUNT);
    check += out[COUNT / 11];
    check += k->sum(x, COUNT);
    printf("%s %.6f\n", k->name, check);
    free(x);
    free(y);
    free(out);
    return 0;
}
