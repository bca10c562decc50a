// containers/fmt: the engine behind gort::fmt::sprintf — Go's doPrintf (flag, width and
// precision parsing, verb dispatch per argument type, the %!... error forms) and fmt's
// formatting rules (fmtInteger, fmtFloat on strconv's shortest / fixed digits, fmtS, fmtQ,
// fmtSbx, padding by runes). Floating-point digits come from std::to_chars, which gives the
// shortest round-tripping digits and exact rounding, the same digits as Go's strconv.
#include <charconv>
#include <cmath>
#include <cstring>
#include <string>

#include "gort/fmt.hpp"

namespace gort::fmt::detail {
namespace {

constexpr const char* ldigits = "0123456789abcdefx";
constexpr const char* udigits = "0123456789ABCDEFX";

struct flags {
  bool plus = false, minus = false, sharp = false, space = false, zero = false;
  bool plusV = false, sharpV = false;
  bool wid_present = false, prec_present = false;
  int wid = 0, prec = 0;
};

// Go: unicode.IsPrint, approximately: ASCII graphic characters and space, and every valid
// rune from U+00A1 up except the soft hyphen, the line/paragraph separators, byte order
// mark and other format or private-use characters listed here.
bool is_print(char32_t r) {
  if (r < 0x80) return r >= 0x20 && r < 0x7f;
  if (r < 0xA1 || r == 0xAD) return false;
  if (r >= 0xD800 && r <= 0xDFFF) return false;
  if (r > 0x10FFFF) return false;
  if (r >= 0x2028 && r <= 0x202E) return false;
  if (r >= 0x200B && r <= 0x200F) return false;
  if (r >= 0x2060 && r <= 0x206F) return false;
  if (r == 0xFEFF || (r >= 0xFFF9 && r <= 0xFFFB) || r == 0xFFFE || r == 0xFFFF) return false;
  if (r >= 0xE000 && r <= 0xF8FF) return false;
  if (r >= 0xF0000) return false;
  return true;
}

void append_utf8(std::string& out, char32_t r) {
  char b[4];
  out.append(b, size_t(utf8::encode_rune(b, r)));
}

// Go: strconv.appendEscapedRune.
void append_escaped_rune(std::string& out, char32_t r, char quote, bool ascii_only) {
  if (r == char32_t(quote) || r == U'\\') {
    out += '\\';
    out += char(r);
    return;
  }
  if (ascii_only ? (r < 0x80 && is_print(r)) : is_print(r)) {
    append_utf8(out, r);
    return;
  }
  char buf[16];
  switch (r) {
    case U'\a': out += "\\a"; return;
    case U'\b': out += "\\b"; return;
    case U'\f': out += "\\f"; return;
    case U'\n': out += "\\n"; return;
    case U'\r': out += "\\r"; return;
    case U'\t': out += "\\t"; return;
    case U'\v': out += "\\v"; return;
    default: break;
  }
  if (r < U' ' || r == 0x7f) {
    std::snprintf(buf, sizeof buf, "\\x%02x", unsigned(r));
  } else if (r > 0x10FFFF || (r >= 0xD800 && r <= 0xDFFF)) {
    std::snprintf(buf, sizeof buf, "\\u%04x", 0xFFFDu);
  } else if (r < 0x10000) {
    std::snprintf(buf, sizeof buf, "\\u%04x", unsigned(r));
  } else {
    std::snprintf(buf, sizeof buf, "\\U%08x", unsigned(r));
  }
  out += buf;
}

// Go: strconv.Quote / QuoteToASCII.
std::string quote(std::string_view s, bool ascii_only) {
  std::string out = "\"";
  for (size_t i = 0; i < s.size();) {
    auto [r, w] = utf8::decode_rune(s.substr(i));
    if (w == 1 && r == utf8::rune_error) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02x", unsigned(uint8_t(s[i])));
      out += buf;
      i++;
      continue;
    }
    append_escaped_rune(out, r, '"', ascii_only);
    i += size_t(w);
  }
  out += '"';
  return out;
}

// Go: strconv.CanBackquote.
bool can_backquote(std::string_view s) {
  for (size_t i = 0; i < s.size();) {
    auto [r, w] = utf8::decode_rune(s.substr(i));
    i += size_t(w);
    if (w > 1) {
      if (r == 0xFEFF) return false;
      continue;
    }
    if (r == utf8::rune_error) return false;
    if ((r < U' ' && r != U'\t') || r == U'`' || r == 0x7f) return false;
  }
  return true;
}

// Decimal digits of a float (Go: strconv's decimalSlice): d[0..nd) with the decimal point
// after dp digits; trailing zeros trimmed; zero has nd = 0, dp = 0.
struct decimal {
  char d[800];
  int nd = 0;
  int dp = 0;
};

// mode 's': shortest; 'e': `prec` digits after the first (prec+1 significant); 'f': `prec`
// digits after the point.
void digits_of(double v, bool f32, char mode, int prec, decimal& out) {
  v = std::fabs(v);
  out.nd = 0;
  out.dp = 0;
  if (v == 0) return;
  char buf[1200];
  std::to_chars_result r;
  if (mode == 's') {
    r = f32 ? std::to_chars(buf, buf + sizeof buf, float(v), std::chars_format::scientific)
            : std::to_chars(buf, buf + sizeof buf, v, std::chars_format::scientific);
  } else if (mode == 'e') {
    r = f32 ? std::to_chars(buf, buf + sizeof buf, float(v), std::chars_format::scientific, prec)
            : std::to_chars(buf, buf + sizeof buf, v, std::chars_format::scientific, prec);
  } else {
    r = f32 ? std::to_chars(buf, buf + sizeof buf, float(v), std::chars_format::fixed, prec)
            : std::to_chars(buf, buf + sizeof buf, v, std::chars_format::fixed, prec);
  }
  std::string_view s(buf, size_t(r.ptr - buf));
  if (mode == 'f') {
    // "iii.fff": digits without the point, skipping leading zeros.
    size_t dot = s.find('.');
    std::string_view ip = s.substr(0, dot);
    std::string_view fp = dot == std::string_view::npos ? std::string_view() : s.substr(dot + 1);
    int dp = int(ip.size());
    std::string all = std::string(ip) + std::string(fp);
    size_t lead = 0;
    while (lead < all.size() && all[lead] == '0') lead++;
    dp -= int(lead);
    all.erase(0, lead);
    while (!all.empty() && all.back() == '0') all.pop_back();
    if (all.empty()) return;  // rounds to zero
    std::memcpy(out.d, all.data(), all.size());
    out.nd = int(all.size());
    out.dp = dp;
    return;
  }
  // "d.ddddde±XX"
  size_t e = s.find('e');
  std::string_view mant = s.substr(0, e);
  int exp = 0;
  std::from_chars(s.data() + e + 1 + (s[e + 1] == '+' ? 1 : 0), s.data() + s.size(), exp);
  int nd = 0;
  for (char c : mant) {
    if (c != '.') out.d[nd++] = c;
  }
  while (nd > 0 && out.d[nd - 1] == '0') nd--;
  out.nd = nd;
  out.dp = exp + 1;
}

// Go: strconv fmtE.
void fmt_e(std::string& dst, bool neg, const decimal& d, int prec, char fmt) {
  if (neg) dst += '-';
  dst += d.nd != 0 ? d.d[0] : '0';
  if (prec > 0) {
    dst += '.';
    int i = 1;
    int m = std::min(d.nd, prec + 1);
    if (i < m) {
      dst.append(d.d + i, size_t(m - i));
      i = m;
    }
    for (; i <= prec; i++) dst += '0';
  }
  dst += fmt;
  int exp = d.nd == 0 ? 0 : d.dp - 1;
  if (exp < 0) {
    dst += '-';
    exp = -exp;
  } else {
    dst += '+';
  }
  if (exp < 10) {
    dst += '0';
    dst += char('0' + exp);
  } else if (exp < 100) {
    dst += char('0' + exp / 10);
    dst += char('0' + exp % 10);
  } else {
    dst += char('0' + exp / 100);
    dst += char('0' + exp / 10 % 10);
    dst += char('0' + exp % 10);
  }
}

// Go: strconv fmtF.
void fmt_f(std::string& dst, bool neg, const decimal& d, int prec) {
  if (neg) dst += '-';
  if (d.dp > 0) {
    int m = std::min(d.nd, d.dp);
    dst.append(d.d, size_t(m));
    for (; m < d.dp; m++) dst += '0';
  } else {
    dst += '0';
  }
  if (prec > 0) {
    dst += '.';
    for (int i = 1; i <= prec; i++) {
      int j = d.dp + i - 1;
      dst += (j >= 0 && j < d.nd) ? d.d[j] : '0';
    }
  }
}

// Go: strconv's fmtX — %x/%X: -0x1.yyyyp±dd (hex digits of the mantissa, a decimal binary
// exponent of at least two digits), or 0x0p+00; prec >= 0 rounds to that many hex digits
// (half to even), -1 gives as many as needed.
void fmt_x(std::string& dst, double v, char fmt, int prec, bool f32) {
  const int mantbits = f32 ? 23 : 52, expbits = f32 ? 8 : 11, bias = f32 ? -127 : -1023;
  uint64_t bits = 0;
  if (f32) {
    float x = float(v);
    uint32_t b32;
    std::memcpy(&b32, &x, 4);
    bits = b32;
  } else {
    std::memcpy(&bits, &v, 8);
  }
  bool neg = (bits >> (expbits + mantbits)) != 0;
  int exp = int(bits >> mantbits) & ((1 << expbits) - 1);
  uint64_t mant = bits & ((uint64_t(1) << mantbits) - 1);
  if (exp == 0) {
    exp++;  // denormal
  } else {
    mant |= uint64_t(1) << mantbits;
  }
  exp += bias;
  if (mant == 0) exp = 0;
  // The leading 1 (if any) at bit 60.
  mant <<= 60 - mantbits;
  while (mant != 0 && (mant & (uint64_t(1) << 60)) == 0) {
    mant <<= 1;
    exp--;
  }
  if (prec >= 0 && prec < 15) {
    unsigned shift = unsigned(prec * 4);
    uint64_t extra = (mant << shift) & ((uint64_t(1) << 60) - 1);
    mant >>= 60 - shift;
    if ((extra | (mant & 1)) > (uint64_t(1) << 59)) mant++;
    mant <<= 60 - shift;
    if (mant & (uint64_t(1) << 61)) {  // carried into a new leading digit
      mant >>= 1;
      exp++;
    }
  }
  const char* hex = fmt == 'X' ? "0123456789ABCDEF" : "0123456789abcdef";
  if (neg) dst += '-';
  dst += '0';
  dst += fmt;
  dst += char('0' + ((mant >> 60) & 1));
  mant <<= 4;  // drop the leading digit
  if (prec < 0 && mant != 0) {
    dst += '.';
    for (; mant != 0; mant <<= 4) dst += hex[(mant >> 60) & 15];
  } else if (prec > 0) {
    dst += '.';
    for (int i = 0; i < prec; i++, mant <<= 4) dst += hex[(mant >> 60) & 15];
  }
  dst += fmt == 'X' ? 'P' : 'p';
  dst += exp < 0 ? '-' : '+';
  if (exp < 0) exp = -exp;
  std::string e = std::to_string(exp);
  if (e.size() < 2) dst += '0';
  dst += e;
}

// Go: strconv.AppendFloat(dst, v, fmt, prec, bitSize) for fmt in e E f g G x X.
void append_float(std::string& dst, double v, char fmt, int prec, bool f32) {
  if (std::isnan(v)) {
    dst += "NaN";
    return;
  }
  if (std::isinf(v)) {
    dst += v > 0 ? "+Inf" : "-Inf";
    return;
  }
  if (fmt == 'x' || fmt == 'X') {
    fmt_x(dst, v, fmt, prec, f32);
    return;
  }
  bool neg = std::signbit(v);
  bool shortest = prec < 0;
  decimal d;
  char lower = char(fmt | 0x20);
  if (shortest) {
    digits_of(v, f32, 's', 0, d);
    switch (lower) {
      case 'e': prec = std::max(d.nd - 1, 0); break;
      case 'f': prec = std::max(d.nd - d.dp, 0); break;
      case 'g': prec = d.nd; break;
    }
  } else if (lower == 'e') {
    digits_of(v, f32, 'e', prec, d);
  } else if (lower == 'f') {
    digits_of(v, f32, 'f', prec, d);
  } else {
    if (prec == 0) prec = 1;
    digits_of(v, f32, 'e', prec - 1, d);
  }
  if (lower == 'e') {
    fmt_e(dst, neg, d, prec, fmt);
  } else if (lower == 'f') {
    fmt_f(dst, neg, d, prec);
  } else {
    int eprec = prec;
    if (eprec > d.nd && d.nd >= d.dp) eprec = d.nd;
    if (shortest) eprec = 6;
    int exp = d.dp - 1;  // -1 for zero, as in strconv
    if (exp < -4 || exp >= eprec) {
      if (prec > d.nd) prec = d.nd;
      fmt_e(dst, neg, d, prec - 1, fmt == 'G' ? 'E' : 'e');
      return;
    }
    if (prec > d.dp) prec = d.nd;
    fmt_f(dst, neg, d, std::max(prec - d.dp, 0));
  }
}

class printer final : public state {
 public:
  std::string buf;
  flags f;

  void write(std::string_view s) override { buf += s; }

  void write_padding(int n) {
    if (n <= 0) return;
    buf.append(size_t(n), f.zero ? '0' : ' ');
  }
  // Go: fmt.pad — width counts runes.
  void pad(std::string_view s) {
    if (!f.wid_present || f.wid == 0) {
      buf += s;
      return;
    }
    int width = f.wid - int(utf8::rune_count(s));
    if (!f.minus) {
      write_padding(width);
      buf += s;
    } else {
      buf += s;
      bool z = f.zero;
      f.zero = false;
      write_padding(width);
      f.zero = z;
    }
  }

  // Go: fmt.fmtInteger.
  void fmt_integer(uint64_t u, int base, bool is_signed, char32_t verb, const char* digits) {
    bool negative = is_signed && int64_t(u) < 0;
    if (negative) u = -u;
    char tmp[200];
    int prec = 0;
    if (f.prec_present) {
      prec = f.prec;
      if (prec == 0 && u == 0) {
        bool z = f.zero;
        f.zero = false;
        write_padding(f.wid);
        f.zero = z;
        return;
      }
    } else if (f.zero && f.wid_present) {
      prec = f.wid;
      if (negative || f.plus || f.space) prec--;
    }
    if (prec > 150) prec = 150;
    int i = int(sizeof tmp);
    switch (base) {
      case 10:
        while (u >= 10) {
          tmp[--i] = char('0' + u % 10);
          u /= 10;
        }
        break;
      case 16:
        while (u >= 16) {
          tmp[--i] = digits[u & 0xF];
          u >>= 4;
        }
        break;
      case 8:
        while (u >= 8) {
          tmp[--i] = char('0' + (u & 7));
          u >>= 3;
        }
        break;
      case 2:
        while (u >= 2) {
          tmp[--i] = char('0' + (u & 1));
          u >>= 1;
        }
        break;
    }
    tmp[--i] = digits[u];
    while (i > 0 && prec > int(sizeof tmp) - i) tmp[--i] = '0';
    if (f.sharp) {
      switch (base) {
        case 2:
          tmp[--i] = 'b';
          tmp[--i] = '0';
          break;
        case 8:
          if (tmp[i] != '0') tmp[--i] = '0';
          break;
        case 16:
          tmp[--i] = digits[16];
          tmp[--i] = '0';
          break;
      }
    }
    if (verb == U'O') {
      tmp[--i] = 'o';
      tmp[--i] = '0';
    }
    if (negative) {
      tmp[--i] = '-';
    } else if (f.plus) {
      tmp[--i] = '+';
    } else if (f.space) {
      tmp[--i] = ' ';
    }
    bool z = f.zero;
    f.zero = false;
    pad(std::string_view(tmp + i, sizeof tmp - size_t(i)));
    f.zero = z;
  }

  // Go: fmt.fmtUnicode (%U).
  void fmt_unicode(uint64_t u) {
    char tmp[64];
    int prec = 4;
    if (f.prec_present && f.prec > 4) prec = std::min(f.prec, 40);
    std::string s = "U+";
    std::snprintf(tmp, sizeof tmp, "%0*llX", prec, (unsigned long long)u);
    s += tmp;
    if (f.sharp && u <= 0x10FFFF && is_print(char32_t(u))) {
      s += " '";
      append_utf8(s, char32_t(u));
      s += "'";
    }
    bool z = f.zero;
    f.zero = false;
    pad(s);
    f.zero = z;
  }

  void fmt_c(uint64_t c) {
    char32_t r = c > 0x10FFFF ? utf8::rune_error : char32_t(c);
    std::string s;
    append_utf8(s, r);
    pad(s);
  }
  void fmt_qc(uint64_t c) {
    char32_t r = c > 0x10FFFF ? utf8::rune_error : char32_t(c);
    std::string s = "'";
    append_escaped_rune(s, r, '\'', f.plus);
    s += "'";
    pad(s);
  }

  std::string_view truncate(std::string_view s) {
    if (f.prec_present) {
      int n = f.prec;
      for (size_t i = 0; i < s.size();) {
        if (n-- <= 0) return s.substr(0, i);
        i += size_t(std::max(1, utf8::decode_rune(s.substr(i)).second));
      }
    }
    return s;
  }
  void fmt_s(std::string_view s) { pad(truncate(s)); }
  void fmt_q(std::string_view s) {
    s = truncate(s);
    if (f.sharp && can_backquote(s)) {
      std::string t = "`";
      t += s;
      t += "`";
      pad(t);
      return;
    }
    pad(quote(s, f.plus));
  }
  // Go: fmt.fmtSbx (%x %X of a string).
  void fmt_sbx(std::string_view s, const char* digits) {
    int length = int(s.size());
    if (f.prec_present && f.prec < length) length = f.prec;
    int width = 2 * length;
    if (width > 0) {
      if (f.space) {
        if (f.sharp) width *= 2;
        width += length - 1;
      } else if (f.sharp) {
        width += 2;
      }
    } else {
      if (f.wid_present) write_padding(f.wid);
      return;
    }
    if (f.wid_present && f.wid > width && !f.minus) write_padding(f.wid - width);
    if (f.sharp) {
      buf += '0';
      buf += digits[16];
    }
    for (int i = 0; i < length; i++) {
      if (f.space && i > 0) {
        buf += ' ';
        if (f.sharp) {
          buf += '0';
          buf += digits[16];
        }
      }
      uint8_t c = uint8_t(s[size_t(i)]);
      buf += digits[c >> 4];
      buf += digits[c & 0xF];
    }
    if (f.wid_present && f.wid > width && f.minus) write_padding(f.wid - width);
  }

  // Go: fmt.fmtFloat.
  void fmt_float(double v, bool f32, char32_t verb, int prec) {
    if (f.prec_present) prec = f.prec;
    char fmtc = verb == U'F' ? 'f' : char(verb);
    std::string num = "+";
    append_float(num, v, fmtc, prec, f32);
    if (num[1] == '-' || num[1] == '+') {
      num.erase(0, 1);
    } else {
      num[0] = '+';
    }
    if (f.space && num[0] == '+' && !f.plus) num[0] = ' ';
    if (num[1] == 'I' || num[1] == 'N') {
      bool z = f.zero;
      f.zero = false;
      if (num[1] == 'N' && !f.space && !f.plus) num.erase(0, 1);
      pad(num);
      f.zero = z;
      return;
    }
    if (f.sharp) {
      int digits = 0;
      if (verb == U'v' || verb == U'g' || verb == U'G' || verb == U'x') {  // not 'X', as in Go
        digits = prec;
        if (digits == -1) digits = 6;
      }
      bool hexf = verb == U'x' || verb == U'X';
      std::string tail;
      bool has_point = false, saw_nonzero = false;
      for (size_t i = 1; i < num.size(); i++) {
        char c = num[i];
        if (c == '.') {
          has_point = true;
        } else if (c == 'p' || c == 'P' || (!hexf && (c == 'e' || c == 'E'))) {
          tail = num.substr(i);
          num.resize(i);
          break;
        } else {
          if (c != '0') saw_nonzero = true;
          if (saw_nonzero) digits--;
        }
      }
      if (!has_point) {
        if (num.size() == 2 && num[1] == '0') digits--;
        num += '.';
      }
      while (digits > 0) {
        num += '0';
        digits--;
      }
      num += tail;
    }
    if (f.plus || num[0] != '+') {
      if (f.zero && f.wid_present && f.wid > int(num.size())) {
        buf += num[0];
        write_padding(f.wid - int(num.size()));
        buf.append(num, 1);
        return;
      }
      pad(num);
      return;
    }
    pad(std::string_view(num).substr(1));
  }

  void bad_verb(char32_t verb, const arg* a) {
    buf += "%!";
    append_utf8(buf, verb);
    buf += '(';
    if (a != nullptr) {
      buf += a->type_name;
      buf += '=';
      format_arg(*a, U'v');  // with the directive's flags, as Go's badVerb does ("%5." pads)
    } else {
      buf += "<nil>";
    }
    buf += ')';
  }

  void format_arg(const arg& a, char32_t verb) override {
    switch (a.k) {
      case kind::boolean:
        if (verb == U't' || verb == U'v') {
          pad(a.b ? "true" : "false");
        } else {
          bad_verb(verb, &a);
        }
        return;
      case kind::sint:
      case kind::uint: {
        bool sg = a.k == kind::sint;
        uint64_t u = sg ? uint64_t(a.i) : a.u;
        switch (verb) {
          case U'v':
            if (f.sharpV && !sg) {
              bool s = f.sharp;
              f.sharp = true;
              fmt_integer(u, 16, false, verb, ldigits);
              f.sharp = s;
            } else {
              fmt_integer(u, 10, sg, verb, ldigits);
            }
            return;
          case U'd': fmt_integer(u, 10, sg, verb, ldigits); return;
          case U'b': fmt_integer(u, 2, sg, verb, ldigits); return;
          case U'o':
          case U'O': fmt_integer(u, 8, sg, verb, ldigits); return;
          case U'x': fmt_integer(u, 16, sg, verb, ldigits); return;
          case U'X': fmt_integer(u, 16, sg, verb, udigits); return;
          case U'c': fmt_c(u); return;
          case U'q': fmt_qc(u); return;
          case U'U': fmt_unicode(u); return;
          default: bad_verb(verb, &a); return;
        }
      }
      case kind::f64:
      case kind::f32: {
        bool f32 = a.k == kind::f32;
        switch (verb) {
          case U'v': fmt_float(a.f, f32, U'g', -1); return;
          case U'g':
          case U'G': fmt_float(a.f, f32, verb, -1); return;
          case U'f':
          case U'F':
          case U'e':
          case U'E': fmt_float(a.f, f32, verb, 6); return;
          case U'x':
          case U'X': fmt_float(a.f, f32, verb, -1); return;
          default: bad_verb(verb, &a); return;
        }
      }
      case kind::str:
        switch (verb) {
          case U'v':
            if (f.sharpV) {
              fmt_q(a.s);
            } else {
              fmt_s(a.s);
            }
            return;
          case U's': fmt_s(a.s); return;
          case U'x': fmt_sbx(a.s, ldigits); return;
          case U'X': fmt_sbx(a.s, udigits); return;
          case U'q': fmt_q(a.s); return;
          default: bad_verb(verb, &a); return;
        }
      case kind::ptr: {
        uint64_t u = uint64_t(reinterpret_cast<uintptr_t>(a.p));
        switch (verb) {
          case U'v':
            if (u == 0) {
              pad("<nil>");
              return;
            }
            [[fallthrough]];
          case U'p': {
            bool s = f.sharp;
            f.sharp = !f.sharp;  // Go: fmt0x64(u, !sharp)
            fmt_integer(u, 16, false, U'v', ldigits);
            f.sharp = s;
            return;
          }
          case U'b': fmt_integer(u, 2, false, verb, ldigits); return;
          case U'o': fmt_integer(u, 8, false, verb, ldigits); return;
          case U'd': fmt_integer(u, 10, false, verb, ldigits); return;
          case U'x': fmt_integer(u, 16, false, verb, ldigits); return;
          case U'X': fmt_integer(u, 16, false, verb, udigits); return;
          default: bad_verb(verb, &a); return;
        }
      }
      case kind::custom:
        a.custom(a.obj, *this, verb);
        return;
    }
  }

  // Reads a decimal number at format[i...]; Go: parsenum.
  static bool parse_num(std::string_view s, size_t& i, int& num) {
    bool found = false;
    num = 0;
    while (i < s.size() && s[i] >= '0' && s[i] <= '9') {
      if (num > 1000000) {  // Go: tooLarge — the rest of the format is used up
        num = 0;
        i = s.size();
        return false;
      }
      num = num * 10 + (s[i] - '0');
      found = true;
      i++;
    }
    return found;
  }

  // Go: intFromArg — '*' takes an int argument.
  bool int_from_arg(const arg* args, size_t n, size_t& argn, int& out) {
    if (argn >= n) return false;
    const arg& a = args[argn++];
    if (a.k == kind::sint) {
      if (a.i > 1000000 || a.i < -1000000) return false;
      out = int(a.i);
      return true;
    }
    if (a.k == kind::uint) {
      if (a.u > 1000000) return false;
      out = int(a.u);
      return true;
    }
    return false;
  }

  bool reordered = false;    // an explicit argument index was used (Go: pp.reordered)
  bool good_arg_num = true;  // this directive's argument index is valid (Go: pp.goodArgNum)

  // Go: parseArgNumber — "[n]" at the start of s: (n-1, the bytes it spans, ok).
  static void parse_arg_number(std::string_view s, int& index, size_t& wid, bool& ok) {
    index = 0;
    wid = 1;
    ok = false;
    if (s.size() < 3) return;  // at least "[n]"
    for (size_t k = 1; k < s.size(); k++) {
      if (s[k] == ']') {
        size_t j = 1;
        int num = 0;
        wid = k + 1;
        if (!parse_num(s.substr(0, k), j, num) || j != k) return;
        index = num - 1;  // one-based
        ok = true;
        return;
      }
    }
  }

  // Go: argNumber — an explicit index "[n]" at format[i] selects the next argument; returns
  // whether one was there and well formed. A bad or out-of-range index marks the directive.
  bool arg_number(size_t& argn, std::string_view format, size_t& i, size_t n) {
    if (i >= format.size() || format[i] != '[') return false;
    reordered = true;
    int index;
    size_t wid;
    bool ok;
    parse_arg_number(format.substr(i), index, wid, ok);
    i += wid;
    if (ok && index >= 0 && size_t(index) < n) {
      argn = size_t(index);
      return true;
    }
    good_arg_num = false;
    return ok;
  }

  // Go: doPrintf.
  void do_printf(std::string_view format, const arg* args, size_t n) {
    size_t argn = 0;
    size_t end = format.size();
    reordered = false;
    for (size_t i = 0; i < end;) {
      good_arg_num = true;
      size_t lasti = i;
      while (i < end && format[i] != '%') i++;
      if (i > lasti) buf.append(format.substr(lasti, i - lasti));
      if (i >= end) break;
      i++;  // skip %
      f = flags{};
      // Flags.
      for (; i < end; i++) {
        char c = format[i];
        if (c == '#') {
          f.sharp = true;
        } else if (c == '0') {
          f.zero = !f.minus;
        } else if (c == '+') {
          f.plus = true;
        } else if (c == '-') {
          f.minus = true;
          f.zero = false;
        } else if (c == ' ') {
          f.space = true;
        } else {
          break;
        }
      }
      // An explicit argument index ("%[2]d", "%[2]*[1]d").
      bool after_index = arg_number(argn, format, i, n);
      // Width.
      if (i < end && format[i] == '*') {
        i++;
        f.wid_present = int_from_arg(args, n, argn, f.wid);
        if (!f.wid_present) buf += "%!(BADWIDTH)";
        if (f.wid < 0) {
          f.wid = -f.wid;
          f.minus = true;
          f.zero = false;
        }
        after_index = false;
      } else {
        f.wid_present = parse_num(format, i, f.wid);
        if (after_index && f.wid_present) good_arg_num = false;  // "%[3]2d"
      }
      // Precision (Go: only when a verb can follow the '.').
      if (i + 1 < end && format[i] == '.') {
        i++;
        if (after_index) good_arg_num = false;  // "%[3].2d"
        after_index = arg_number(argn, format, i, n);
        if (i < end && format[i] == '*') {
          i++;
          f.prec_present = int_from_arg(args, n, argn, f.prec);
          if (f.prec < 0) {
            f.prec = 0;
            f.prec_present = false;
          }
          if (!f.prec_present) buf += "%!(BADPREC)";
          after_index = false;
        } else {
          f.prec_present = true;
          parse_num(format, i, f.prec);
        }
      }
      if (!after_index) after_index = arg_number(argn, format, i, n);
      if (i >= end) {
        buf += "%!(NOVERB)";
        break;
      }
      auto [verb, size] = utf8::decode_rune(format.substr(i));
      i += size_t(size);
      if (verb == U'%') {
        buf += '%';
        continue;
      }
      if (!good_arg_num) {
        buf += "%!";
        append_utf8(buf, verb);
        buf += "(BADINDEX)";
        continue;
      }
      if (argn >= n) {
        buf += "%!";
        append_utf8(buf, verb);
        buf += "(MISSING)";
        continue;
      }
      if (verb == U'v') {
        if (f.sharp) {
          f.sharp = false;
          f.sharpV = true;
        }
        if (f.plus) {
          f.plus = false;
          f.plusV = true;
        }
      }
      format_arg(args[argn++], verb);
    }
    // Go skips the check once an index reordered the arguments.
    if (!reordered && argn < n) {
      f = flags{};
      buf += "%!(EXTRA ";
      for (size_t k = argn; k < n; k++) {
        if (k > argn) buf += ", ";
        buf += args[k].type_name;
        buf += '=';
        format_arg(args[k], U'v');
      }
      buf += ')';
    }
  }
};

}  // namespace

void append_args(std::string& out, std::string_view format, const arg* args, size_t n) {
  printer p;
  p.buf.swap(out);
  p.do_printf(format, args, n);
  out.swap(p.buf);
}

string sprintf_args(std::string_view format, const arg* args, size_t n) {
  printer p;
  p.do_printf(format, args, n);
  return string(std::string_view(p.buf));
}

}  // namespace gort::fmt::detail
