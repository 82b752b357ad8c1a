package dev.jemma.server;

import com.fasterxml.jackson.databind.JsonNode;
import dev.jemma.core.engine.GenerationOptions;
import dev.jemma.core.engine.SamplerSetting;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.openqa.selenium.By;
import org.openqa.selenium.WebDriver;
import org.openqa.selenium.WebElement;
import org.openqa.selenium.chrome.ChromeDriver;
import org.openqa.selenium.support.ui.WebDriverWait;

import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import java.util.TreeMap;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The web page's sampling settings in headless Chromium: the fields a user fills reach /api/chat's options and nothing
 * else does (empty = the server's default, shown as the placeholder: jemma serve's flags, Gemma's for the rest); a value
 * out of the server's range is refused on the page in the server's words; a server 400 is shown as its one line; the
 * values survive a reload and "Reset to defaults" clears them. Mutations caught: the page's range check dropped (the
 * 1.5 top-p is sent), empty fields sent (temperature appears in the options), reset leaving localStorage (the reload
 * brings the values back).
 */
class WebSettingsBrowserTest {
    @TempDir
    Path home;

    @Test
    void settingsReachTheRequestAreCheckedAndReset() throws Exception {
        Browser.assumeInstalled();
        JemmaServer.Config c = TestServers.config().withSampling(GenerationOptions.builder().temperature(0.5f).build());
        try (JemmaServer server = TestServers.start(c, home)) {
            ChromeDriver driver = Browser.start(home);
            try {
                WebDriverWait wait = Browser.open(driver, server, Duration.ofSeconds(60));
                wait.until(d -> "ready".equals(d.findElement(By.tagName("body")).getDomAttribute("data-settings")));
                Browser.recordRequests(driver);
                WebElement panel = driver.findElement(By.id("settings"));
                assertThat(panel.isDisplayed()).isFalse();
                driver.findElement(By.id("settings-toggle")).click();
                assertThat(panel.isDisplayed()).isTrue();
                // the placeholders are the server's defaults: serve's --temp 0.5, Gemma's top-k 64, a random seed
                wait.until(d -> field(d, "top_k").getDomProperty("placeholder").equals("64"));
                assertThat(driver.findElement(By.id("temperature")).getDomProperty("placeholder")).isEqualTo("0.5");
                assertThat(field(driver, "seed").getDomProperty("placeholder")).isEqualTo("random");
                assertThat(field(driver, "samplers").getDomProperty("placeholder")).isEqualTo("edskypmxt");
                shot(driver, "screenshot-settings.png");

                // what the user sets, and only that, is sent (temperature left empty: the server's 0.5 applies)
                type(field(driver, "top_k"), "1");
                type(field(driver, "seed"), "42");
                type(field(driver, "min_p"), "0.05");
                type(field(driver, "repeat_penalty"), "1.1");
                type(field(driver, "samplers"), "ekt");
                type(driver.findElement(By.id("max-tokens")), "6");
                Browser.ask(driver, wait, "Hello");
                assertThat(driver.findElements(By.cssSelector(".msg.error"))).isEmpty();
                JsonNode options = Exchange.JSON.readTree(Browser.lastChatBody(driver)).path("options");
                Map<String, String> sent = new TreeMap<>();
                options.fields().forEachRemaining(e -> sent.put(e.getKey(), e.getValue().toString()));
                assertThat(sent).isEqualTo(new TreeMap<>(Map.of("top_k", "1", "seed", "42", "min_p", "0.05", "repeat_penalty", "1.1",
                        "samplers", "\"ekt\"", "num_predict", "6")));

                // out of the server's range: refused on the page, in the server's words, and nothing is sent
                long before = Browser.chatRequests(driver);
                type(field(driver, "top_p"), "1.5");
                String topP = "Top-p 1.5: must be " + SamplerSetting.TOP_P.rule();
                assertThat(driver.findElement(By.id("error-top_p")).getText()).isEqualTo(topP);
                WebElement input = driver.findElement(By.id("input"));
                input.sendKeys("Again");
                driver.findElement(By.id("send")).click();
                wait.until(d -> d.findElement(By.id("status")).getText().equals(topP));
                assertThat(Browser.chatRequests(driver)).isEqualTo(before);
                assertThat(input.getDomProperty("value")).as("the message is kept").isEqualTo("Again");
                shot(driver, "screenshot-settings-refused.png");
                // the repeat penalty's 0 is excluded (min_exclusive), as the server excludes it
                type(field(driver, "top_p"), "");
                type(field(driver, "repeat_penalty"), "0");
                assertThat(driver.findElement(By.id("error-repeat_penalty")).getText())
                        .isEqualTo("Repeat penalty 0: must be " + SamplerSetting.REPEAT_PENALTY.rule());
                type(field(driver, "repeat_penalty"), "1.1");
                assertThat(driver.findElement(By.id("error-repeat_penalty")).getText()).isEmpty();

                // what only the server checks (a seed past 64 bits) comes back as its one-line 400
                type(field(driver, "seed"), "99999999999999999999");
                driver.findElement(By.id("send")).click();
                wait.until(d -> !d.findElements(By.cssSelector(".msg.error")).isEmpty() && Browser.idle(d));
                assertThat(driver.findElement(By.cssSelector(".msg.error")).getText())
                        .isEqualTo("Error: field 'options.seed' is out of range (a 64-bit integer)");
                type(field(driver, "seed"), "42");

                // kept in this browser: a reload brings the values back
                driver.navigate().refresh();
                wait.until(d -> "ready".equals(d.findElement(By.tagName("body")).getDomAttribute("data-settings")));
                assertThat(field(driver, "top_k").getDomProperty("value")).isEqualTo("1");
                assertThat(field(driver, "samplers").getDomProperty("value")).isEqualTo("ekt");
                assertThat(driver.findElement(By.id("max-tokens")).getDomProperty("value")).isEqualTo("6");

                // reset: every field empty, also after a reload, and the next request sends no sampling option
                driver.findElement(By.id("settings-toggle")).click();
                driver.findElement(By.id("settings-reset")).click();
                for (String f : new String[]{"top_k", "seed", "min_p", "repeat_penalty", "samplers"}) {
                    assertThat(field(driver, f).getDomProperty("value")).as(f).isEmpty();
                }
                assertThat(driver.findElement(By.id("max-tokens")).getDomProperty("value")).isEmpty();
                driver.navigate().refresh();
                wait.until(d -> "ready".equals(d.findElement(By.tagName("body")).getDomAttribute("data-settings")));
                assertThat(field(driver, "top_k").getDomProperty("value")).isEmpty();
                Browser.recordRequests(driver);
                Browser.ask(driver, wait, "Once more");
                assertThat(Exchange.JSON.readTree(Browser.lastChatBody(driver)).path("options").size()).isZero();
            } finally {
                driver.quit();
            }
        }
    }

    /** Saves what the page looks like under target/, for a look by eye. */
    private static void shot(ChromeDriver driver, String name) throws java.io.IOException {
        java.io.File f = ((org.openqa.selenium.TakesScreenshot) driver).getScreenshotAs(org.openqa.selenium.OutputType.FILE);
        java.nio.file.Files.createDirectories(Path.of("target"));
        java.nio.file.Files.copy(f.toPath(), Path.of("target", name), java.nio.file.StandardCopyOption.REPLACE_EXISTING);
    }

    private static WebElement field(WebDriver d, String name) {
        return d.findElement(By.id("set-" + name));
    }

    /** Replaces a field's text as a user would (the page checks and stores on each input event). */
    private static void type(WebElement field, String text) {
        field.clear();
        if (!text.isEmpty()) field.sendKeys(text);
        else field.sendKeys(" ", org.openqa.selenium.Keys.BACK_SPACE);
    }
}
