#ifndef MGMT_CLIBPQ_SHIM_H
#define MGMT_CLIBPQ_SHIM_H
#include <libpq-fe.h>
#endif
