#include "aws/xml.h"

#include <algorithm>
#include <cctype>
#include <cstdlib>

#include "common/strings.h"

namespace tp::aws::xml {
namespace {

constexpr int kMaxDepth = 64;  // AWS responses nest < 10 deep; bounds recursion on hostile input

void append_utf8(std::string& out, unsigned long cp) {
  if (cp < 0x80) {
    out.push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out.push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

Result<std::string> decode_entities(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '&') {
      out.push_back(s[i]);
      continue;
    }
    size_t semi = s.find(';', i);
    if (semi == std::string_view::npos) return invalid_argument("XML: unterminated entity reference");
    std::string_view ent = s.substr(i + 1, semi - i - 1);
    static constexpr std::pair<std::string_view, char> kPredefined[] = {
        {"amp", '&'}, {"lt", '<'}, {"gt", '>'}, {"quot", '"'}, {"apos", '\''}};
    auto known = std::find_if(std::begin(kPredefined), std::end(kPredefined),
                              [&](const auto& p) { return p.first == ent; });
    if (known != std::end(kPredefined)) {
      out.push_back(known->second);
    } else if (ent.size() > 1 && ent[0] == '#') {
      bool hex = ent[1] == 'x' || ent[1] == 'X';
      std::string digits(ent.substr(hex ? 2 : 1));
      char* end = nullptr;
      unsigned long cp = std::strtoul(digits.c_str(), &end, hex ? 16 : 10);
      if (digits.empty() || *end != '\0' || cp > 0x10FFFF) {
        return invalid_argument("XML: bad character reference &" + std::string(ent) + ";");
      }
      append_utf8(out, cp);
    } else {
      return invalid_argument("XML: unknown entity &" + std::string(ent) + ";");
    }
    i = semi;
  }
  return out;
}

class Parser {
 public:
  explicit Parser(std::string_view doc) : s_(doc) {}

  Result<Element> document() {
    if (starts_with(s_, "\xEF\xBB\xBF")) pos_ = 3;  // UTF-8 byte order mark
    TP_CHECK(skip_misc());
    if (pos_ >= s_.size() || s_[pos_] != '<') return invalid_argument("XML: no root element");
    TP_TRY(Element root, element(0));
    TP_CHECK(skip_misc());
    if (pos_ != s_.size()) return invalid_argument("XML: content after the root element");
    return root;
  }

 private:
  // Skips whitespace, <?...?>, <!--...--> and <!DOCTYPE ...> between elements.
  Status skip_misc() {
    while (true) {
      while (pos_ < s_.size() && std::isspace(static_cast<unsigned char>(s_[pos_]))) ++pos_;
      if (starts_with(s_.substr(pos_), "<?")) {
        TP_CHECK(skip_past("?>"));
      } else if (starts_with(s_.substr(pos_), "<!--")) {
        TP_CHECK(skip_past("-->"));
      } else if (starts_with(s_.substr(pos_), "<!")) {
        TP_CHECK(skip_past(">"));
      } else {
        return {};
      }
    }
  }

  Status skip_past(std::string_view end) {
    size_t e = s_.find(end, pos_);
    if (e == std::string_view::npos) return invalid_argument("XML: missing \"" + std::string(end) + "\"");
    pos_ = e + end.size();
    return {};
  }

  Result<Element> element(int depth) {
    if (depth > kMaxDepth) return invalid_argument("XML: elements nested too deeply");
    ++pos_;  // '<'
    size_t name_start = pos_;
    while (pos_ < s_.size() && !std::isspace(static_cast<unsigned char>(s_[pos_])) && s_[pos_] != '>' &&
           s_[pos_] != '/')
      ++pos_;
    std::string qname(s_.substr(name_start, pos_ - name_start));
    if (qname.empty()) return invalid_argument("XML: empty element name");
    Element el;
    size_t colon = qname.find(':');
    el.name = colon == std::string::npos ? qname : qname.substr(colon + 1);
    // Attributes: skipped, honouring quotes so a '>' inside a value does not end the tag.
    char quote = 0;
    while (pos_ < s_.size()) {
      char c = s_[pos_];
      if (quote) {
        if (c == quote) quote = 0;
      } else if (c == '"' || c == '\'') {
        quote = c;
      } else if (c == '>' || c == '/') {
        break;
      }
      ++pos_;
    }
    if (pos_ >= s_.size()) return invalid_argument("XML: unterminated tag <" + qname + ">");
    if (s_[pos_] == '/') {
      if (pos_ + 1 >= s_.size() || s_[pos_ + 1] != '>')
        return invalid_argument("XML: bad empty tag <" + qname + ">");
      pos_ += 2;
      return el;
    }
    ++pos_;  // '>'
    while (true) {
      size_t lt = s_.find('<', pos_);
      if (lt == std::string_view::npos) return invalid_argument("XML: missing </" + qname + ">");
      TP_TRY(std::string text, decode_entities(s_.substr(pos_, lt - pos_)));
      el.text += text;
      pos_ = lt;
      std::string_view rest = s_.substr(pos_);
      if (starts_with(rest, "</")) {
        size_t gt = s_.find('>', pos_);
        if (gt == std::string_view::npos) return invalid_argument("XML: unterminated </" + qname);
        std::string closing = trim(s_.substr(pos_ + 2, gt - pos_ - 2));
        if (closing != qname) {
          return invalid_argument("XML: <" + qname + "> closed by </" + closing + ">");
        }
        pos_ = gt + 1;
        return el;
      }
      if (starts_with(rest, "<![CDATA[")) {
        size_t end = s_.find("]]>", pos_);
        if (end == std::string_view::npos) return invalid_argument("XML: unterminated CDATA");
        el.text += std::string(s_.substr(pos_ + 9, end - pos_ - 9));
        pos_ = end + 3;
      } else if (starts_with(rest, "<!--")) {
        TP_CHECK(skip_past("-->"));
      } else if (starts_with(rest, "<?")) {
        TP_CHECK(skip_past("?>"));
      } else {
        TP_TRY(Element child, element(depth + 1));
        el.children.push_back(std::move(child));
      }
    }
  }

  std::string_view s_;
  size_t pos_ = 0;
};

}  // namespace

const Element* Element::child(std::string_view child_name) const {
  for (const auto& c : children) {
    if (c.name == child_name) return &c;
  }
  return nullptr;
}

std::vector<const Element*> Element::children_named(std::string_view child_name) const {
  std::vector<const Element*> out;
  for (const auto& c : children) {
    if (c.name == child_name) out.push_back(&c);
  }
  return out;
}

std::string Element::child_text(std::string_view child_name) const {
  const Element* c = child(child_name);
  return c ? trim(c->text) : std::string();
}

const Element* Element::find(std::string_view element_name) const {
  if (name == element_name) return this;
  for (const auto& c : children) {
    if (const Element* found = c.find(element_name)) return found;
  }
  return nullptr;
}

Result<Element> parse(std::string_view document) {
  return Parser(document).document();
}

std::string escape(std::string_view text) {
  std::string out;
  for (char c : text) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&apos;";
        break;
      default:
        out.push_back(c);
    }
  }
  return out;
}

}  // namespace tp::aws::xml
