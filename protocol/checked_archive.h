// A cereal binary input archive that trusts no length it reads.
//
// cereal's BinaryInputArchive reads a container's length and resizes the
// container to it before reading a single element, so eight damaged bytes
// can ask for gigabytes (docs/reliability-sandbox.md). This archive reads from a span of bytes in
// memory and refuses a length larger than the bytes left (every element the
// store and the wire formats hold takes at least one byte), and vectors of
// structures grow as their elements decode rather than all at once, so the
// memory a decode takes is bounded by a small multiple of the input's size,
// whatever the input says. Reading past the end is an error too.
//
// Errors: decode_prefix/decode_exact return a message naming what was
// wrong and where; nothing throws out of them. Stateless apart from the
// span: any thread, any number at once.
#pragma once

#include <cstdint>
#include <cstring>
#include <expected>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include <cereal/archives/binary.hpp>
#include <cereal/cereal.hpp>
#include <cereal/types/vector.hpp>

namespace shoal::wire {

class CheckedInputArchive
    : public cereal::InputArchive<CheckedInputArchive, cereal::AllowEmptyClassElision> {
 public:
  CheckedInputArchive(const void* data, size_t size)
      : cereal::InputArchive<CheckedInputArchive, cereal::AllowEmptyClassElision>(this),
        p_(static_cast<const char*>(data)),
        left_(size),
        size_(size) {}

  // Copies the next n bytes; throws cereal::Exception when fewer are left.
  void loadBinary(void* out, size_t n) {
    if (n > left_)
      throw cereal::Exception("needs " + std::to_string(n) + " bytes at offset " +
                              std::to_string(offset()) + ", " + std::to_string(left_) + " left");
    if (n) std::memcpy(out, p_, n);
    p_ += n;
    left_ -= n;
  }
  // Throws unless `length` elements can fit in the bytes left.
  void check_length(uint64_t length) const {
    if (length > left_)
      throw cereal::Exception("a length of " + std::to_string(length) + " at offset " +
                              std::to_string(offset() - sizeof length) + " exceeds the " +
                              std::to_string(left_) + " bytes left");
  }
  size_t remaining() const { return left_; }
  size_t offset() const { return size_ - left_; }

 private:
  const char* p_;
  size_t left_, size_;
};

}  // namespace shoal::wire

namespace cereal {

template <class T>
std::enable_if_t<std::is_arithmetic_v<T>> CEREAL_LOAD_FUNCTION_NAME(
    shoal::wire::CheckedInputArchive& ar, T& t) {
  ar.loadBinary(std::addressof(t), sizeof(t));
}

template <class T>
void CEREAL_SERIALIZE_FUNCTION_NAME(shoal::wire::CheckedInputArchive& ar, NameValuePair<T>& t) {
  ar(t.value);
}

// Every length (strings, vectors, maps) passes through here before the
// container is sized.
template <class T>
void CEREAL_SERIALIZE_FUNCTION_NAME(shoal::wire::CheckedInputArchive& ar, SizeTag<T>& t) {
  ar(t.size);
  ar.check_length(static_cast<uint64_t>(t.size));
}

template <class T>
void CEREAL_LOAD_FUNCTION_NAME(shoal::wire::CheckedInputArchive& ar, BinaryData<T>& bd) {
  ar.loadBinary(bd.data, static_cast<size_t>(bd.size));
}

// Vectors of structures: cereal would default-construct `length` elements
// at once (each far larger than the byte it may take in the input); here
// they are added one at a time, as each decodes.
template <class T, class A>
requires(!std::is_arithmetic_v<T> && !std::is_same_v<T, bool>) void CEREAL_LOAD_FUNCTION_NAME(
    shoal::wire::CheckedInputArchive& ar, std::vector<T, A>& v) {
  size_type length;
  ar(make_size_tag(length));
  v.clear();
  for (size_type i = 0; i < length; ++i) ar(v.emplace_back());
}

}  // namespace cereal

CEREAL_REGISTER_ARCHIVE(shoal::wire::CheckedInputArchive)
// Half of CEREAL_SETUP_ARCHIVE_TRAITS: BinaryOutputArchive's input archive
// stays cereal's own.
namespace cereal::traits::detail {
template <>
struct get_output_from_input<shoal::wire::CheckedInputArchive> {
  using type = BinaryOutputArchive;
};
}  // namespace cereal::traits::detail

namespace shoal::wire {

// Decodes a T from the front of `bytes`; what follows it is ignored (a
// message from a newer peer may carry fields this one does not know).
template <class T>
std::expected<T, std::string> decode_prefix(std::string_view bytes) {
  try {
    CheckedInputArchive ar(bytes.data(), bytes.size());
    T value;
    ar(value);
    return value;
  } catch (const std::exception& e) {
    return std::unexpected(std::string(e.what()));
  }
}

// Decodes a T that must take exactly `bytes`.
template <class T>
std::expected<T, std::string> decode_exact(std::string_view bytes) {
  try {
    CheckedInputArchive ar(bytes.data(), bytes.size());
    T value;
    ar(value);
    if (ar.remaining())
      return std::unexpected(std::to_string(ar.remaining()) + " bytes left over after offset " +
                             std::to_string(ar.offset()));
    return value;
  } catch (const std::exception& e) {
    return std::unexpected(std::string(e.what()));
  }
}

}  // namespace shoal::wire
