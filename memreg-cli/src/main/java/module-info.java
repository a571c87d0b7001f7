/** The {@code memreg} command: demo, bench, info, stat, pages and migrate. */
@SuppressWarnings("requires-automatic") // HdrHistogram and XChart ship without a module descriptor
module org.memreg.cli {
    requires org.memreg.core;
    requires info.picocli;
    requires HdrHistogram;
    requires org.knowm.xchart;

    opens org.memreg.cli to info.picocli; // picocli sets the commands' options by reflection
}
