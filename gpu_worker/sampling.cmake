# Token sampling (sampler_params, sampler_penalties, sampler) and stop matching. Included
# from gpu_worker/CMakeLists.txt; paths are relative to this directory.
add_library(hearth_sampling STATIC
  sampler_params.cc
  sampler_penalties.cc
  sampler.cc
  stop_matcher.cc)
target_link_libraries(hearth_sampling PUBLIC hearth_common)

hearth_test(sampler_params_test SOURCES sampler_params_test.cc LIBS hearth_sampling)
hearth_test(sampler_penalties_test SOURCES sampler_penalties_test.cc LIBS hearth_sampling)
hearth_test(sampler_test SOURCES sampler_test.cc LIBS hearth_sampling)
hearth_test(stop_matcher_test SOURCES stop_matcher_test.cc LIBS hearth_sampling)
