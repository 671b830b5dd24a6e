/* The ABI is the header; this file only proves it compiles as C within the package. */
#include "callgate_plugin.h"
