#include <kclangc.h>
