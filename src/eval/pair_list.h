// pair_list.h: verification pair lists, as the LFW protocol and custom sets write them.
//
// Three formats, told apart by the first line:
//   lfw-view2  "10<TAB>300" (folds, pairs per class per fold), then per fold 300 matched lines
//              "Name<TAB>i<TAB>j" followed by 300 mismatched lines "Name1<TAB>i<TAB>Name2<TAB>j"
//              (LFW's pairs.txt). Pairs get fold 0..folds-1 from their position.
//   lfw-view1  "1100" (pairs per class), then that many matched lines, then as many mismatched
//              ones (pairsDevTrain.txt, pairsDevTest.txt). One fold.
//   csv        "path1,path2,same" lines (same: 1/0, true/false or yes/no); an
//              optional first line of column names. One fold.
// LFW's (Name, i) means the image "Name/Name_%04d.jpg" relative to the image root. Blank lines
// are ignored, CRLF line ends accepted. A malformed line, a wrong count or a header promising
// more (or fewer) pairs than the file holds fails with face::Error naming the file and line.
#pragma once
#include <filesystem>
#include <string>
#include <vector>

namespace face {

struct ImagePair {
  std::string first, second;  // image paths relative to the image root, e.g. "Aaron_Peirsol/Aaron_Peirsol_0001.jpg"
  bool same;
  int fold;                   // 0-based fold (View 2: 0..9; View 1 and CSV: 0)
  int line;                   // 1-based line in the file, for messages
};

struct PairList {
  std::string path, format;   // format: "lfw-view2", "lfw-view1" or "csv"
  int folds = 1;
  std::string checksum;       // file_fingerprint of the file
  std::vector<ImagePair> pairs;
};

// Detects the format from the header; malformed lines fail with face::Error naming file and line.
PairList read_pair_list(const std::filesystem::path& file);

// LFW's image naming: lfw_image_path("Aaron_Peirsol", 1) == "Aaron_Peirsol/Aaron_Peirsol_0001.jpg".
std::string lfw_image_path(const std::string& name, int number);

}  // namespace face
