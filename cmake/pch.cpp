// Compiled only to build the precompiled header (see CMakeLists.txt).
