#include "runtime/model_manager.h"

namespace mofa::runtime {

PipelineLoader default_pipeline_loader() {
  return [](const std::string& dir, const llm::LoadOptions& options) {
    return llm::LlmPipeline::load(dir, options);
  };
}

}  // namespace mofa::runtime
