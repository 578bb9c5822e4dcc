/* version.h - the custos release, shown by `custos version`. */
#ifndef CU_VERSION_H
#define CU_VERSION_H

#define CU_VERSION "0.1.0"

#endif
