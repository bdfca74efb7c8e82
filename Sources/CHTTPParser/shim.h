#ifndef EVY_CHTTPPARSER_SHIM_H
#define EVY_CHTTPPARSER_SHIM_H
#include <http_parser.h>

/* Bit fields and macros of http_parser, as functions Swift can call. */
static inline unsigned int evy_http_errno(const http_parser *parser) { return parser->http_errno; }
static inline unsigned int evy_http_method(const http_parser *parser) { return parser->method; }
static inline unsigned int evy_http_upgrade(const http_parser *parser) { return parser->upgrade; }
static inline unsigned int evy_http_flags(const http_parser *parser) { return parser->flags; }
#endif
