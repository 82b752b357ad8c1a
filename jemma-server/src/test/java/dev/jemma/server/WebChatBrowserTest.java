package dev.jemma.server;

import dev.jemma.core.testing.MultimodalFixtures;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.openqa.selenium.By;
import org.openqa.selenium.Keys;
import org.openqa.selenium.OutputType;
import org.openqa.selenium.TakesScreenshot;
import org.openqa.selenium.WebElement;
import org.openqa.selenium.chrome.ChromeDriver;
import org.openqa.selenium.support.ui.ExpectedConditions;
import org.openqa.selenium.support.ui.Select;
import org.openqa.selenium.support.ui.WebDriverWait;

import java.io.File;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Duration;
import java.util.Base64;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Drives the web chat page in headless Chromium through the system's chromedriver (Debian's chromium-driver; no
 * driver download). Skipped, saying why, where no chromedriver is installed. The image test serves the multimodal
 * fixture model and is skipped without the shared fixtures.
 */
class WebChatBrowserTest {
    @TempDir
    Path home;

    @Test
    void typesAMessageAndSeesTheStreamedAnswer() throws Exception {
        Browser.assumeInstalled();
        try (JemmaServer server = TestServers.start(TestServers.config(), home)) {
            ChromeDriver driver = Browser.start(home);
            try {
                driver.get(server.uri() + "/");
                WebDriverWait wait = new WebDriverWait(driver, Duration.ofSeconds(60));
                wait.until(d -> !new Select(d.findElement(By.id("model"))).getOptions().isEmpty());
                assertThat(new Select(driver.findElement(By.id("model"))).getFirstSelectedOption().getText())
                        .isEqualTo(TestServers.MODEL);
                // Markdown (the vendored marked + DOMPurify): code blocks, inline code, emphasis, lists; HTML a model writes
                // is shown as text, never as markup
                String html = (String) driver.executeScript("return window.jemmaRenderMarkdown(arguments[0]);",
                        "# Title\nSome **bold** and `code`.\n\n- one\n- two\n\n```java\nif (a < b) x();\n```\n<img src=x onerror=alert(1)>");
                assertThat(html).contains("<h1>Title</h1>", "<strong>bold</strong>", "<code>code</code>", "<li>one</li>",
                        "<pre><code class=\"language-java\">if (a &lt; b) x();\n</code></pre>", "&lt;img src=x onerror=alert(1)&gt;");
                assertThat(html).doesNotContain("<img");
                // Bound the tiny model's (gibberish) answers so the test stays quick.
                driver.findElement(By.id("max-tokens")).sendKeys("60");
                WebElement input = driver.findElement(By.id("input"));
                input.sendKeys("Hello, who are you?");
                input.sendKeys(Keys.ENTER);
                // The answer streams in; the send button comes back when it is done.
                wait.until(ExpectedConditions.numberOfElementsToBe(By.cssSelector(".msg.assistant"), 1));
                wait.until(d -> d.findElement(By.id("send")).isEnabled()
                        && d.findElements(By.cssSelector(".msg.streaming")).isEmpty());
                WebElement answer = driver.findElement(By.cssSelector(".msg.assistant"));
                assertThat(answer.findElement(By.cssSelector(".meta")).getText()).matches("\\d+ tokens, [0-9.]+ tokens/s · prompt \\d+ new tokens.*");
                assertThat(answer.getText()).isNotBlank();
                assertThat(driver.findElements(By.cssSelector(".msg.error"))).isEmpty();
                // A second turn continues the conversation (both turns stay on the page).
                input.sendKeys("Tell me more");
                driver.findElement(By.id("send")).click();
                wait.until(ExpectedConditions.numberOfElementsToBe(By.cssSelector(".msg.assistant"), 2));
                wait.until(d -> d.findElement(By.id("send")).isEnabled());
                assertThat(driver.findElements(By.cssSelector(".msg.user"))).hasSize(2);
                File shot = ((TakesScreenshot) driver).getScreenshotAs(OutputType.FILE);
                Path out = Path.of("target", "screenshot-webchat.png");
                Files.createDirectories(out.getParent());
                Files.copy(shot.toPath(), out, StandardCopyOption.REPLACE_EXISTING);
                String extra = System.getProperty("jemma.screenshot");
                if (extra != null && !extra.isBlank()) Files.copy(shot.toPath(), Path.of(extra), StandardCopyOption.REPLACE_EXISTING);
                // Stop: an unbounded answer is stopped mid-stream, and the page is ready for the next message.
                // The tiny model may end a (gibberish) answer on its own before the click lands: then try again
                // in a new chat with another prompt.
                driver.findElement(By.id("max-tokens")).clear();
                // greedily: the first prompt's answer then runs until the context is full (4080 tokens at 128, 256 and
                // 512 bits), so the click has time to land; a sampled answer can end within 20 ms (198 tokens, seen in
                // a probe of these prompts), which leaves the three tries to chance
                Browser.greedy(driver);
                boolean stopped = false;
                for (String prompt : List.of("Go on and on", "Tell me a very long story", "Keep talking forever")) {
                    driver.findElement(By.id("new-chat")).click();
                    // On a quiet machine the tiny model finishes an answer in well under the time a WebDriver
                    // round trip takes, so the click is made in the page itself, as soon as the first streamed
                    // text is rendered (a user's click, just without the WebDriver latency).
                    driver.executeScript("""
                            const obs = new MutationObserver(() => {
                              const m = document.querySelector('.msg.assistant.streaming .content');
                              if (m && m.textContent.trim().length > 0) { obs.disconnect(); document.getElementById('stop').click(); }
                            });
                            obs.observe(document.body, {subtree: true, childList: true, characterData: true});""");
                    input.sendKeys(prompt);
                    input.sendKeys(Keys.ENTER);
                    wait.until(d -> d.findElements(By.cssSelector(".msg.assistant")).size() == 1);
                    wait.until(d -> d.findElement(By.id("send")).isEnabled());
                    if (driver.findElement(By.id("status")).getText().equals("Stopped.")) {
                        stopped = true;
                        break;
                    }
                }
                assertThat(stopped).as("an answer was stopped by the Stop button").isTrue();
                // The server notices the closed stream and frees the slot.
                wait.until(d -> server.scheduler.running() == 0);
            } finally {
                driver.quit();
            }
        }
    }

    /**
     * An image attached with the button, then two by paste and drop, reach the server as Ollama base64 {@code images}
     * of the user message (byte for byte), are shown in the conversation, and the answer is the engine's own for that
     * image; a file that is not an image is refused on the page.
     */
    @Test
    void attachesPastesAndDropsImages() throws Exception {
        Browser.assumeInstalled();
        Path dir = MultimodalFixtures.root().resolve("gemma3-vision-tiny");
        Path model = dir.resolve("gemma3-vision-tiny-F32.gguf"), square = dir.resolve("media/square-224x224.png"),
                wide = dir.resolve("media/wide-960x320.png");
        String question = "Describe this picture in one short sentence.";
        String expected;
        var greedy = dev.jemma.core.engine.GenerationOptions.builder().temperature(0f).maxTokens(12).build();
        try (var e = dev.jemma.core.engine.Engine.load(model, dev.jemma.core.engine.EngineOptions.builder().threads(1).build());
             var s = e.newSession()) {
            expected = s.generate(List.of(dev.jemma.core.chat.ChatMessage.user(question, List.of(dev.jemma.core.chat.ChatImage.read(square)))),
                    greedy, dev.jemma.core.engine.TokenListener.NONE).text();
        }
        String squareB64 = Base64.getEncoder().encodeToString(Files.readAllBytes(square));
        String wideB64 = Base64.getEncoder().encodeToString(Files.readAllBytes(wide));
        JemmaServer.Config c = JemmaServer.Config.defaults().withPort(0).withModels(List.of(model.toString()))
                .withEngine(1, false, 0).withLimits(2, 16, Duration.ofSeconds(60));
        try (JemmaServer server = TestServers.start(c, home)) {
            ChromeDriver driver = Browser.start(home);
            try {
                driver.get(server.uri() + "/");
                WebDriverWait wait = new WebDriverWait(driver, Duration.ofSeconds(60));
                wait.until(d -> !new Select(d.findElement(By.id("model"))).getOptions().isEmpty());
                // what the page sends, as the server receives it
                Browser.recordRequests(driver);
                WebElement temp = driver.findElement(By.id("temperature"));
                temp.clear();
                temp.sendKeys("0");
                driver.findElement(By.id("max-tokens")).sendKeys("12");

                // 1. the file picker
                driver.findElement(By.id("image-file")).sendKeys(square.toRealPath().toString());
                wait.until(d -> d.findElements(By.cssSelector("#attachments img.thumb")).size() == 1);
                WebElement input = driver.findElement(By.id("input"));
                input.sendKeys(question);
                input.sendKeys(Keys.ENTER);
                wait.until(ExpectedConditions.numberOfElementsToBe(By.cssSelector(".msg.assistant"), 1));
                wait.until(d -> d.findElement(By.id("send")).isEnabled() && d.findElements(By.cssSelector(".msg.streaming")).isEmpty());
                assertThat(driver.findElements(By.cssSelector(".msg.error"))).isEmpty();
                assertThat(driver.findElements(By.cssSelector("#attachments img"))).as("attachments cleared once sent").isEmpty();
                assertThat(driver.findElements(By.cssSelector(".msg.user .images img.thumb"))).as("the image shown in the conversation").hasSize(1);
                var sent = Exchange.JSON.readTree(Browser.lastChatBody(driver));
                assertThat(sent.path("messages").get(0).path("content").asText()).isEqualTo(question);
                assertThat(sent.path("messages").get(0).path("images").get(0).asText()).isEqualTo(squareB64);
                String answerHtml = driver.findElement(By.cssSelector(".msg.assistant .content")).getAttribute("innerHTML");
                String expectedHtml = (String) driver.executeScript("return window.jemmaRenderMarkdown(arguments[0]);", expected);
                assertThat(answerHtml).as("the engine's answer for that image").isEqualTo(expectedHtml);

                // 2. paste into the message box and drop on the page; a text file is refused
                driver.findElement(By.id("new-chat")).click();
                String fileJs = "const b = atob(arguments[0]); const a = new Uint8Array(b.length);"
                        + " for (let i = 0; i < b.length; i++) a[i] = b.charCodeAt(i);"
                        + " const dt = new DataTransfer(); dt.items.add(new File([a], arguments[1], {type: arguments[2]}));";
                driver.executeScript(fileJs + " document.getElementById('input').dispatchEvent(new ClipboardEvent('paste',"
                        + " {clipboardData: dt, bubbles: true, cancelable: true}));", squareB64, "pasted.png", "image/png");
                driver.executeScript(fileJs + " document.getElementById('messages').dispatchEvent(new DragEvent('drop',"
                        + " {dataTransfer: dt, bubbles: true, cancelable: true}));", wideB64, "wide.png", "image/png");
                wait.until(d -> d.findElements(By.cssSelector("#attachments img.thumb")).size() == 2);
                driver.executeScript(fileJs + " document.getElementById('messages').dispatchEvent(new DragEvent('drop',"
                        + " {dataTransfer: dt, bubbles: true, cancelable: true}));",
                        Base64.getEncoder().encodeToString("plain text".getBytes()), "notes.txt", "text/plain");
                wait.until(d -> d.findElement(By.id("status")).getText().contains("notes.txt is not an image"));
                assertThat(driver.findElements(By.cssSelector("#attachments img.thumb"))).hasSize(2);
                input.sendKeys("Compare them.");
                input.sendKeys(Keys.ENTER);
                wait.until(ExpectedConditions.numberOfElementsToBe(By.cssSelector(".msg.assistant"), 1));
                wait.until(d -> d.findElement(By.id("send")).isEnabled() && d.findElements(By.cssSelector(".msg.streaming")).isEmpty());
                assertThat(driver.findElements(By.cssSelector(".msg.error"))).isEmpty();
                sent = Exchange.JSON.readTree(Browser.lastChatBody(driver));
                assertThat(sent.path("messages")).hasSize(1);
                var images = sent.path("messages").get(0).path("images");
                assertThat(images).hasSize(2);
                assertThat(images.get(0).asText()).isEqualTo(squareB64);
                assertThat(images.get(1).asText()).isEqualTo(wideB64);
                assertThat(driver.findElements(By.cssSelector(".msg.user .images img.thumb"))).hasSize(2);
                assertThat(driver.findElement(By.cssSelector(".msg.assistant .meta")).getText()).contains("tokens");
                File shot = ((TakesScreenshot) driver).getScreenshotAs(OutputType.FILE);
                Files.copy(shot.toPath(), Path.of("target", "screenshot-webchat-images.png"), StandardCopyOption.REPLACE_EXISTING);

                // the images are kept with the conversation: after a reload they are shown and sent again
                driver.get(server.uri() + "/");
                wait.until(d -> d.findElements(By.cssSelector(".msg.user .images img.thumb")).size() == 2);
                assertThat(driver.findElements(By.cssSelector("#conversations .conversation"))).hasSize(2);
                assertThat(driver.findElements(By.cssSelector(".msg.user .images img.thumb")).get(1).getAttribute("src"))
                        .isEqualTo("data:image/png;base64," + wideB64);
                Browser.recordRequests(driver);
                Browser.ask(driver, wait, "And now?");
                assertThat(driver.findElements(By.cssSelector(".msg.error"))).isEmpty();
                sent = Exchange.JSON.readTree(Browser.lastChatBody(driver));
                assertThat(sent.path("messages")).hasSize(3);
                assertThat(sent.path("messages").get(0).path("images").get(1).asText()).isEqualTo(wideB64);
            } finally {
                driver.quit();
            }
        }
    }

    /**
     * Image… needs a model that sees and Audio… / Record one that hears (the capabilities /api/tags reports): with a
     * text-only model all three are greyed out, their tooltips say why, a click or a dropped image says it in the status
     * line and nothing is attached; a vision model takes images but not audio; a Gemma 3n model with its mmproj takes
     * both. An image attached for the vision model is not sent once a text-only model is picked.
     */
    @Test
    void attachButtonsFollowTheModelsCapabilities() throws Exception {
        Browser.assumeInstalled();
        Path mm = MultimodalFixtures.root();
        Path vision = mm.resolve("gemma3-vision-tiny/gemma3-vision-tiny-F32.gguf");
        Path gemma3n = mm.resolve("gemma3n-mm-tiny/gemma3n-mm-tiny-F16.gguf");
        Path square = mm.resolve("gemma3-vision-tiny/media/square-224x224.png");
        String text = TestServers.MODEL, sees = "gemma3-vision-tiny-F32", both = "gemma3n-mm-tiny-F16";
        JemmaServer.Config c = JemmaServer.Config.defaults().withPort(0)
                .withModels(List.of(TestServers.tinyModel().toString(), vision.toString(), gemma3n.toString()))
                .withEngine(1, false, 0).withLimits(2, 16, Duration.ofSeconds(60));
        try (JemmaServer server = TestServers.start(c, home)) {
            ChromeDriver driver = Browser.start(home);
            try {
                WebDriverWait wait = Browser.open(driver, server, Duration.ofSeconds(60));
                Browser.recordRequests(driver);
                Select model = new Select(driver.findElement(By.id("model")));
                WebElement image = driver.findElement(By.id("attach")), audio = driver.findElement(By.id("attach-audio")),
                        record = driver.findElement(By.id("record"));

                model.selectByValue(text);
                for (WebElement b : List.of(image, audio, record)) {
                    assertThat(b.getAttribute("aria-disabled")).as(b.getAttribute("id")).isEqualTo("true");
                    assertThat(Double.parseDouble(b.getCssValue("opacity"))).as("greyed out").isLessThan(0.6);
                }
                assertThat(image.getAttribute("title")).isEqualTo(text + " cannot take images: it has no vision tower"
                        + " (Gemma 3 4B and larger with its mmproj file, or Gemma 3n with its mmproj, take images).");
                assertThat(audio.getAttribute("title")).startsWith(text + " cannot take audio: it has no audio tower");
                assertThat(record.getAttribute("title")).isEqualTo(audio.getAttribute("title"));
                image.click();
                wait.until(d -> d.findElement(By.id("status")).getText().equals(image.getAttribute("title")));
                driver.executeScript("document.getElementById('status').textContent = '';");
                record.click();
                wait.until(d -> d.findElement(By.id("status")).getText().startsWith(text + " cannot take audio"));
                assertThat(record.getText()).as("no recording started").isEqualTo("Record");
                // a dropped image is refused the same way (pasting goes through the same check)
                String squareB64 = Base64.getEncoder().encodeToString(Files.readAllBytes(square));
                String drop = "const b = atob(arguments[0]); const a = new Uint8Array(b.length);"
                        + " for (let i = 0; i < b.length; i++) a[i] = b.charCodeAt(i);"
                        + " const dt = new DataTransfer(); dt.items.add(new File([a], 'square.png', {type: 'image/png'}));"
                        + " document.getElementById('messages').dispatchEvent(new DragEvent('drop',"
                        + " {dataTransfer: dt, bubbles: true, cancelable: true}));";
                driver.executeScript("document.getElementById('status').textContent = '';");
                driver.executeScript(drop, squareB64);
                wait.until(d -> d.findElement(By.id("status")).getText().startsWith(text + " cannot take images"));
                assertThat(driver.findElements(By.cssSelector("#attachments img.thumb"))).isEmpty();

                // the vision model: images yes, audio no
                model.selectByValue(sees);
                assertThat(image.getAttribute("aria-disabled")).isEqualTo("false");
                assertThat(Double.parseDouble(image.getCssValue("opacity"))).isEqualTo(1.0);
                assertThat(image.getAttribute("title")).startsWith("Attach an image");
                assertThat(audio.getAttribute("aria-disabled")).isEqualTo("true");
                assertThat(record.getAttribute("aria-disabled")).isEqualTo("true");
                assertThat(audio.getAttribute("title")).startsWith(sees + " cannot take audio");
                driver.executeScript(drop, squareB64);
                wait.until(d -> d.findElements(By.cssSelector("#attachments img.thumb")).size() == 1);

                // switched back to the text model with the image attached: the message is held, not sent
                model.selectByValue(text);
                assertThat(image.getAttribute("aria-disabled")).isEqualTo("true");
                WebElement input = driver.findElement(By.id("input"));
                input.sendKeys("What is this?");
                input.sendKeys(Keys.ENTER);
                wait.until(d -> d.findElement(By.id("status")).getText().contains("Remove the attached images or pick another model."));
                assertThat(Browser.chatRequests(driver)).isZero();
                assertThat(driver.findElements(By.cssSelector(".msg.user"))).isEmpty();
                assertThat(driver.findElements(By.cssSelector("#attachments img.thumb"))).hasSize(1);

                // Gemma 3n with its mmproj sees and hears
                model.selectByValue(both);
                for (WebElement b : List.of(image, audio, record)) {
                    assertThat(b.getAttribute("aria-disabled")).as(b.getAttribute("id")).isEqualTo("false");
                }
                assertThat(audio.getAttribute("title")).startsWith("Attach a WAV clip");
            } finally {
                driver.quit();
            }
        }
    }
}
