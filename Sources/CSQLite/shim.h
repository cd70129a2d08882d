// Debian's libsqlite3-dev (3.40): the library SQLite's users on Linux link, GRDB among them.
#include <sqlite3.h>
