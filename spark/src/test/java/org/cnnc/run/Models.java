// SPDX-License-Identifier: Apache-2.0
package org.cnnc.run;

import java.nio.file.Path;
import org.cnnc.compiler.Compiler;
import org.cnnc.runtime.CnnModel;

/** The spark module's tests load a model of a spec as {@code cnnc train} does ({@link ModelLoader}). */
public final class Models {
  private Models() {}

  public static CnnModel load(Path spec, String model) throws java.io.IOException {
    Compiler.Compilation c = Compiler.compile(Compiler.Request.of(spec));
    if (!c.ok()) {
      throw new IllegalStateException(c.diagnostics().toString());
    }
    return ModelLoader.load(c, c.network(model).orElseThrow());
  }
}
