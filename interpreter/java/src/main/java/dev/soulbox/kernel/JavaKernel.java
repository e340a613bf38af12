package dev.soulbox.kernel;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import jdk.jshell.Diag;
import jdk.jshell.EvalException;
import jdk.jshell.JShell;
import jdk.jshell.Snippet;
import jdk.jshell.SnippetEvent;
import jdk.jshell.SourceCodeAnalysis;
import org.dflib.jjava.jupyter.channels.JupyterConnection;
import org.dflib.jjava.jupyter.kernel.BaseKernel;
import org.dflib.jjava.jupyter.kernel.BaseKernelBuilder;
import org.dflib.jjava.jupyter.kernel.KernelConnectionProperties;
import org.dflib.jjava.jupyter.kernel.LanguageInfo;
import org.dflib.jjava.jupyter.kernel.ReplacementOptions;
import org.dflib.jjava.jupyter.kernel.display.DisplayData;
import org.dflib.jjava.jupyter.kernel.JupyterIO;
import org.dflib.jjava.jupyter.kernel.comm.CommManager;
import org.dflib.jjava.jupyter.kernel.display.Renderer;
import org.dflib.jjava.jupyter.kernel.history.HistoryManager;
import org.dflib.jjava.jupyter.kernel.magic.MagicParser;
import org.dflib.jjava.jupyter.kernel.magic.MagicsRegistry;
import org.dflib.jjava.jupyter.kernel.util.StringStyler;

/**
 * SoulBox's Java kernel: JJava's Jupyter messaging base (org.dflib.jjava:jjava-jupyter) around a
 * JShell. Snippets run in this JVM (JShell's local execution engine) so that System.out, which the
 * base swaps for the cell's iopub stream, is the stream user code writes to. A cell's value is the
 * value of its last snippet when that snippet is an expression.
 */
public final class JavaKernel extends BaseKernel {
  private final JShell shell;
  /** A cell is running (evalRaw); an interrupt is wanted until it ends. */
  private volatile boolean running;
  private volatile boolean interruptRequested;

  private JavaKernel(Parts p) {
    super(
        p.name(),
        p.version(),
        new LanguageInfo(
            "java", System.getProperty("java.version"), "text/x-java", ".java", "java", "java", "java"),
        List.of(),
        p.history(),
        p.io(),
        p.comms(),
        p.renderer(),
        p.magicParser(),
        p.magics(),
        false,
        p.errorStyler());
    // Local execution: no second JVM, and stop() interrupts the cell's thread.
    this.shell = JShell.builder().executionEngine("local").out(System.out).err(System.err).build();
  }

  /*
   * The base library names a cell's error after the thrown class's simple name, so the two kinds of
   * failure get classes named for what the user should read: the real exception's class leads the
   * value, and its frames (the user's, as JShell reports them) make the traceback.
   */

  /** A snippet that did not compile: the compiler's diagnostics. */
  static final class CompilationError extends RuntimeException {
    CompilationError(String message) {
      super(message);
    }
  }

  /** A snippet threw: the exception's class and message, its frames kept as the cause's. */
  static final class ThrownException extends RuntimeException {
    ThrownException(String className, Throwable cause) {
      super(className + (cause.getMessage() == null ? "" : ": " + cause.getMessage()), cause);
    }
  }

  /** The cell was interrupted (interrupt_request) before it finished. */
  static final class Interrupted extends RuntimeException {
    Interrupted() {
      super("the cell was interrupted");
    }
  }

  @Override
  public Object evalRaw(String code) {
    running = true;
    interruptRequested = false;
    try {
      return evalSnippets(code);
    } finally {
      running = false;
      interruptRequested = false;
    }
  }

  private Object evalSnippets(String code) {
    SourceCodeAnalysis analysis = shell.sourceCodeAnalysis();
    String rest = code;
    Object last = null;
    while (!rest.isBlank()) {
      SourceCodeAnalysis.CompletionInfo info = analysis.analyzeCompletion(rest);
      if (info.completeness() == SourceCodeAnalysis.Completeness.EMPTY) break;
      String source =
          info.completeness().isComplete() ? info.source() : rest; // incomplete: let JShell say why
      rest = info.completeness().isComplete() ? info.remaining() : "";
      last = null;
      if (interruptRequested) throw new Interrupted();
      List<SnippetEvent> events = shell.eval(source);
      if (interruptRequested) throw new Interrupted();
      for (SnippetEvent ev : events) {
        if (ev.exception() != null) {
          Throwable t = ev.exception();
          String name =
              t instanceof EvalException e ? e.getExceptionClassName() : t.getClass().getName();
          throw new ThrownException(name, t);
        }
        if (ev.status() == Snippet.Status.REJECTED) {
          List<String> why = new ArrayList<>();
          shell.diagnostics(ev.snippet()).forEach((Diag d) -> why.add(d.getMessage(null)));
          throw new CompilationError(String.join("\n", why));
        }
        Snippet s = ev.snippet();
        boolean expression =
            s.kind() == Snippet.Kind.EXPRESSION
                || s.subKind() == Snippet.SubKind.TEMP_VAR_EXPRESSION_SUBKIND;
        if (ev.causeSnippet() == null && expression) last = ev.value();
      }
    }
    return last == null ? null : new Shown((String) last);
  }

  /** A value as JShell prints it (strings quoted), shown as text/plain. */
  record Shown(String text) {
    @Override
    public String toString() {
      return text;
    }
  }

  @Override
  public List<String> formatError(Throwable e) {
    List<String> lines = new ArrayList<>();
    if (e instanceof CompilationError) {
      lines.add("CompilationError: " + e.getMessage());
      return lines;
    }
    Throwable shown = e instanceof ThrownException && e.getCause() != null ? e.getCause() : e;
    lines.add(e instanceof ThrownException ? e.getMessage() : e.toString());
    for (StackTraceElement f : shown.getStackTrace()) lines.add("    at " + f);
    return lines;
  }

  /**
   * JShell's stop() only reaches a snippet that is executing: one still compiling (a cell is split
   * into snippets, each compiled just before it runs) would miss it and then run on. So until the
   * cell ends, stop() is repeated, and evalRaw checks between snippets.
   */
  @Override
  public void interrupt() {
    if (!running) return;
    interruptRequested = true;
    Thread stopper =
        new Thread(
            () -> {
              while (interruptRequested && running) {
                shell.stop();
                try {
                  Thread.sleep(50);
                } catch (InterruptedException e) {
                  return;
                }
              }
            },
            "soulbox-interrupt");
    stopper.setDaemon(true);
    stopper.start();
  }

  @Override
  public DisplayData inspect(String code, int at, boolean extra) {
    return null;
  }

  @Override
  public ReplacementOptions complete(String code, int at) {
    return null;
  }

  @Override
  public String isComplete(String code) {
    return shell.sourceCodeAnalysis().analyzeCompletion(code).completeness().isComplete()
        ? IS_COMPLETE_YES
        : IS_COMPLETE_MAYBE;
  }

  @Override
  public void onShutdown(boolean restart) {
    shell.close();
  }

  /** What BaseKernel's constructor takes, as the base library's builder makes it. */
  private record Parts(
      String name,
      String version,
      HistoryManager history,
      JupyterIO io,
      CommManager comms,
      Renderer renderer,
      MagicParser magicParser,
      MagicsRegistry magics,
      StringStyler errorStyler) {}

  static final class Builder extends BaseKernelBuilder<Builder, JavaKernel> {
    @Override
    public JavaKernel build() {
      return new JavaKernel(
          new Parts(
              buildName(),
              buildVersion(),
              buildHistoryManager(),
              buildJupyterIO(buildJupyterIOEncoding()),
              buildCommManager(),
              buildRenderer(),
              new MagicParser("(?<=(?:^|=))\\s*%", "%%", buildMagicTranspiler()),
              buildMagicsRegistry(),
              buildErrorStyler()));
    }
  }

  /** java -cp ... dev.soulbox.kernel.JavaKernel <connection file> */
  public static void main(String[] args) throws Exception {
    if (args.length != 1) {
      System.err.println("usage: JavaKernel <connection file>");
      System.exit(2);
    }
    KernelConnectionProperties props = KernelConnectionProperties.parse(Files.readString(Path.of(args[0])));
    JupyterConnection connection = new JupyterConnection(props);
    JavaKernel kernel = new Builder().name("soulbox-java").version("1").build();
    kernel.becomeHandlerForConnection(connection);
    connection.connect();
    connection.waitUntilClose();
  }
}
