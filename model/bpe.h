// Byte-level BPE (GPT-2 style): the reversible byte <-> code point mapping that makes every byte
// a printable vocabulary character, and merging of symbol ids by merge rank.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace hearth::model {

// GPT-2's mapping: printable Latin-1 bytes map to themselves, the rest to U+0100 onwards.
uint32_t ByteToCodepoint(uint8_t b);
// The byte a mapped code point stands for, or -1 when `cp` is not in the mapping.
int CodepointToByte(uint32_t cp);

// Bytes -> vocabulary spelling ("Ġhello" for " hello").
std::string BytesToVocabText(std::string_view bytes);
// Vocabulary spelling -> bytes. Sets *all_mapped false (and keeps the character's own UTF-8)
// when a character is outside the mapping, which a well-formed vocabulary never has.
std::string VocabTextToBytes(std::string_view text, bool* all_mapped);

// Merge rules keyed by token ids: (left, right) -> merged token, ranked by insertion order.
class BpeMerges {
 public:
  // Returns false (and keeps the first rule) when the pair already has one.
  bool Add(int32_t left, int32_t right, int32_t merged);
  size_t size() const { return rules_.size(); }

  // Repeatedly merges the adjacent pair with the lowest rank (leftmost first on ties) until no
  // pair has a rule. Symbols < 0 never merge. O(n log n) in the number of symbols.
  void Apply(std::vector<int32_t>* symbols) const;

 private:
  struct Rule {
    uint32_t rank;
    int32_t merged;
  };
  static uint64_t Key(int32_t left, int32_t right) {
    return (static_cast<uint64_t>(static_cast<uint32_t>(left)) << 32) |
           static_cast<uint32_t>(right);
  }
  const Rule* Find(int32_t left, int32_t right) const;

  std::unordered_map<uint64_t, Rule> rules_;
};

}  // namespace hearth::model
