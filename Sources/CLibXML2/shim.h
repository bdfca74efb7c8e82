#ifndef EVY_CLIBXML2_SHIM_H
#define EVY_CLIBXML2_SHIM_H
/* Debian's libxml2 is built with ICU; its headers would then include ICU's, which clash with the
   ICU copy inside Swift's Foundation. Evy uses no libxml2 API that involves ICU types. */
#include <libxml/xmlversion.h>
#undef LIBXML_ICU_ENABLED
#include <libxml/HTMLparser.h>
#include <libxml/parser.h>
#include <libxml/parserInternals.h>
#include <libxml/tree.h>
#include <libxml/xmlerror.h>

/* xmlFree is a global function pointer: a function Swift can call without touching shared state. */
static inline void evy_xmlFree(void *pointer) { xmlFree(pointer); }
#endif
