// libpq for Swift: the header, plus the diagnostic field codes, which are char-literal macros.
#ifndef MGMT_CLIBPQ_SHIM_H
#define MGMT_CLIBPQ_SHIM_H
#include <libpq-fe.h>

static const int MGMT_PG_DIAG_SQLSTATE = PG_DIAG_SQLSTATE;
static const int MGMT_PG_DIAG_MESSAGE_PRIMARY = PG_DIAG_MESSAGE_PRIMARY;
#endif
