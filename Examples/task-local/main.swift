// Evergreen docs, "Task local storage": each green thread sees its own value.
//   swift run example-task-local
import Evy

let mydata = GreenLocal<Int>()

try Hub.run {
    mydata.value = 1
    let others = (2...4).map { x in
        spawn {
            mydata.value = x
            try await sleep(for: .milliseconds(10))  // others run and set their own
            return "green thread \(x) sees \(mydata.value!)"
        }
    }
    for other in others { print(try await other.wait()) }
    print("the main green thread still sees \(mydata.value!)")
}
