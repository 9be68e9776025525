#ifndef BUTLER_CLIBPQ_SHIM_H
#define BUTLER_CLIBPQ_SHIM_H
#include <libpq-fe.h>

/// A notice processor that drops server notices (they would otherwise go to standard error).
static inline void butler_ignore_notice(void *arg, const char *message) { (void)arg; (void)message; }
static inline void butler_silence_notices(PGconn *conn) { PQsetNoticeProcessor(conn, butler_ignore_notice, 0); }
#endif
