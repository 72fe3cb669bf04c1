// libpng's simplified API (png_image, no setjmp), with its format flags as constants Swift can import.
#ifndef MGMT_CPNG_SHIM_H
#define MGMT_CPNG_SHIM_H
#include <png.h>

static const unsigned int MGMT_PNG_FORMAT_RGB = PNG_FORMAT_RGB;
static const unsigned int MGMT_PNG_IMAGE_VERSION = PNG_IMAGE_VERSION;
#endif
