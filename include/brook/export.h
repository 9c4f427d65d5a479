// Symbol visibility for the brook shared library. The library is built with
// hidden visibility; only declarations marked BROOK_EXPORT are part of its ABI.
#ifndef BROOK_EXPORT_H_
#define BROOK_EXPORT_H_

#if defined(BROOK_STATIC)
#define BROOK_EXPORT
#elif defined(__GNUC__)
#define BROOK_EXPORT [[gnu::visibility("default")]]
#else
#define BROOK_EXPORT
#endif

#endif  // BROOK_EXPORT_H_
