/* banned.h: libc functions that are easy to misuse, made uncompilable.
 * Use zp_buf, snprintf, zp_strdup and the checked parsers in util.h instead. */
#ifndef ZP_BANNED_H
#define ZP_BANNED_H

#define ZP_BANNED(func) sorry_##func##_is_banned_in_zpanel

#undef strcpy
#define strcpy(x, y) ZP_BANNED(strcpy)
#undef strcat
#define strcat(x, y) ZP_BANNED(strcat)
#undef strncpy
#define strncpy(x, y, n) ZP_BANNED(strncpy)
#undef sprintf
#define sprintf(...) ZP_BANNED(sprintf)
#undef vsprintf
#define vsprintf(...) ZP_BANNED(vsprintf)
#undef strtok
#define strtok(x, y) ZP_BANNED(strtok)
#undef atoi
#define atoi(x) ZP_BANNED(atoi)
#undef atol
#define atol(x) ZP_BANNED(atol)
#undef gets
#define gets(x) ZP_BANNED(gets)

#endif
